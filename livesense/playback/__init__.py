"""playback stage."""
