"""LiveSense in the browser: a Gradio page whose live media travels over a WebSocket.

    python -m ui [--host 127.0.0.1] [--port 7860] [--agent cascade|parrot]

Gradio draws the page (and serves it); mic, webcam and reply audio do not go through
Gradio's streaming events (0.5 s chunks, lost audio, gappy playback here) but through
``/ws/live`` on the same server, with AudioWorklets on the page (see ``ui/transport.py``,
``ui/static/``). Each tab gets its own runtime session.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python ui/app.py`: make `ui` and `livesense` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from ui.server import LiveServer  # noqa: E402

STATIC = Path(__file__).resolve().parent / "static"

PANEL = """
<div id="ls-root" class="ls-root">
  <div class="ls-row">
    <button id="ls-start" class="ls-button">Start</button>
    <span id="ls-status" class="ls-status">idle: press Start, allow mic and camera</span>
  </div>
  <div class="ls-row ls-main">
    <video id="ls-video" class="ls-video" muted playsinline></video>
    <div class="ls-side">
      <div class="ls-h">Transcript</div>
      <div id="ls-transcript" class="ls-transcript"></div>
      <div class="ls-h">Last turn latency</div>
      <table id="ls-latency" class="ls-latency"><tr><td>mouth-to-ear</td><td>-</td></tr></table>
    </div>
  </div>
  <div id="ls-meter" class="ls-meter"></div>
</div>
"""

CSS = """
.ls-root { font-family: system-ui, sans-serif; }
.ls-row { display: flex; gap: 12px; align-items: center; margin: 6px 0; }
.ls-main { align-items: flex-start; }
.ls-button { padding: 8px 22px; font-size: 16px; border-radius: 8px; border: 1px solid #888; cursor: pointer; }
.ls-status { color: #555; }
.ls-video { width: 320px; height: 240px; background: #222; border-radius: 8px; transform: scaleX(-1); }
.ls-side { flex: 1; min-width: 260px; }
.ls-h { font-weight: 600; margin: 4px 0; }
.ls-transcript { height: 150px; overflow-y: auto; border: 1px solid #ccc; border-radius: 6px; padding: 6px; }
.ls-line { margin: 2px 0; }
.ls-latency td { padding: 1px 10px 1px 0; font-variant-numeric: tabular-nums; }
.ls-meter { color: #666; font-size: 12px; }
"""

BOOT = "import('/livesense/static/client.js').then((m) => m.mount(element));"


def build_demo(agent_name: str):
    import gradio as gr

    with gr.Blocks(title="LiveSense") as demo:
        gr.Markdown(f"## LiveSense: talk and show\nAgent: **{agent_name}**. Speak; it answers aloud when you "
                    "pause, and stops when you talk over it. Audio and video stay on this machine.")
        gr.HTML(PANEL, js_on_load=BOOT, elem_id="livesense-panel")
    return demo


def create_app(server: LiveServer, gradio: bool = True):
    """The FastAPI app: the WebSocket, the page's scripts, and (unless ``gradio=False``) the
    Gradio page mounted at ``/``."""
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles
    from starlette.routing import WebSocketRoute

    app = FastAPI()
    app.router.routes.append(WebSocketRoute("/ws/live", server.websocket_endpoint))  # one session per socket
    app.mount("/livesense/static", StaticFiles(directory=STATIC), name="livesense-static")

    @app.get("/livesense/health")
    def health() -> dict:
        return {"agent": server.agent_name, "sessions": len(server.active), "finished": len(server.reports)}

    if gradio:
        import gradio as gr

        app = gr.mount_gradio_app(app, build_demo(server.agent_name), path="/", css=CSS, footer_links=[])
    return app


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ui", description="LiveSense browser demo (Gradio + WebSocket)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=7860, help="port to serve on")
    p.add_argument("--agent", default="cascade", choices=["cascade", "parrot"],
                   help="'cascade' = Whisper -> Gemma -> Piper (loads ~10 s); 'parrot' = test agent")
    p.add_argument("--ssl-certfile", help="serve HTTPS (browsers allow the mic off-localhost only over HTTPS)")
    p.add_argument("--ssl-keyfile", help="the key for --ssl-certfile")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    server = LiveServer(agent=args.agent)
    print(f"loading the {args.agent} agent ...", flush=True)
    server.pool.warm()
    scheme = "https" if args.ssl_certfile else "http"
    print(f"LiveSense: open {scheme}://{args.host}:{args.port}/ in Chrome (Ctrl-C to stop)", flush=True)
    uvicorn.run(create_app(server), host=args.host, port=args.port, log_level="warning",
                ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
