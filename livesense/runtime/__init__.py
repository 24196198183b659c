"""Stage protocol, queues, VAD and turn-taking, pipeline wiring, latency tracing."""
