"""LiveSense browser demo: a Gradio page with a WebSocket + AudioWorklet media path.

Run ``python -m ui --agent parrot`` (or the default cascade agent) and open the printed URL.
Importing this package does no work; see ``ui.app``, ``ui.server`` and ``ui.transport``.
"""
