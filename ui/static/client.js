// LiveSense browser client: mic + webcam to the server over one WebSocket, reply audio to an
// AudioWorklet ring buffer, transcript and latency panel from JSON messages.
// Wire format: see ui/transport.py. Options from the page URL: ?prebuffer_ms=60&aec=1&fps=5

const HDR = 16; // kind u8, pad[3], seq u32, t_browser f64
const KIND_AUDIO = 1, KIND_VIDEO = 2, KIND_REPLY = 0x11;
const RATE = 16000, FRAME = 320;

function params() {
  const q = new URLSearchParams(location.search);
  return {
    prebufferMs: Number(q.get("prebuffer_ms") || 60),
    aec: q.get("aec") !== "0",
    fps: Number(q.get("fps") || 5),
    video: q.get("video") !== "0",
  };
}

function packet(kind, seq, payload) {
  const buf = new ArrayBuffer(HDR + payload.byteLength);
  const dv = new DataView(buf);
  dv.setUint8(0, kind);
  dv.setUint32(4, seq, true);
  dv.setFloat64(8, performance.now(), true);
  new Uint8Array(buf, HDR).set(new Uint8Array(payload));
  return buf;
}

class LiveClient {
  constructor(root, base) {
    this.root = root;
    this.base = base;
    this.opts = params();
    this.el = (id) => root.querySelector(`#${id}`);
    this.sent = { audio: 0, video: 0, videoSkipped: 0 };
    this.playback = {};
    this.heard = []; // [{reply, t}] for tests
    this.latency = null;
    this.turnText = new Map();
    this.el("ls-start").addEventListener("click", () => {
      if (this.ws) return this.stop();
      this.start().catch((e) => { this.stop(); this.status(`error: ${e.message || e}`); });
    });
  }

  status(text) {
    this.el("ls-status").textContent = text;
    this.root.dataset.state = text;
  }

  async start() {
    this.el("ls-start").textContent = "Stop";
    this.status("starting");
    const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${this.base}/ws/live`;
    this.ws = new WebSocket(wsUrl);
    this.ws.binaryType = "arraybuffer";
    this.ws.onmessage = (e) => this.onMessage(e.data);
    this.ws.onclose = () => this.status("disconnected");
    await new Promise((ok, err) => { this.ws.onopen = ok; this.ws.onerror = err; });
    this.ctx = new AudioContext({ latencyHint: "interactive" });
    await this.ctx.audioWorklet.addModule(`${this.base}/livesense/static/capture-worklet.js`);
    await this.ctx.audioWorklet.addModule(`${this.base}/livesense/static/playback-worklet.js`);
    const a = this.opts.aec;
    const audio = { echoCancellation: a, noiseSuppression: a, autoGainControl: a, channelCount: 1 };
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio, video: this.opts.video ? { width: 320, height: 240 } : false });
    } catch (e) {
      if (!this.opts.video) throw e;
      this.opts.video = false; // no camera (or refused): go on with the mic alone
      this.stream = await navigator.mediaDevices.getUserMedia({ audio });
    }
    this.startPlayback();
    this.startMic();
    if (this.opts.video) this.startVideo();
    this.send({ type: "hello", ctx_rate: this.ctx.sampleRate, base_latency: this.ctx.baseLatency,
                output_latency: this.ctx.outputLatency, ua: navigator.userAgent, aec: a });
    await this.ctx.resume();
    this.pingTimer = setInterval(() => this.ping(), 1000);
    for (let i = 0; i < 5; i++) setTimeout(() => this.ping(), 50 * i);
    this.statsTimer = setInterval(() => this.sendStats(), 250);
  }

  stop() {
    clearInterval(this.pingTimer);
    clearInterval(this.statsTimer);
    clearInterval(this.videoTimer);
    if (this.ws) this.ws.close();
    this.ws = null;
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    if (this.ctx) this.ctx.close();
    this.el("ls-start").textContent = "Start";
    this.status("stopped");
  }

  send(msg) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }

  startMic() {
    const src = this.ctx.createMediaStreamSource(this.stream);
    this.mic = new AudioWorkletNode(this.ctx, "ls-capture", {
      numberOfInputs: 1, numberOfOutputs: 0, processorOptions: { targetRate: RATE, frame: FRAME },
    });
    let seq = 0;
    this.mic.port.onmessage = (e) => {
      if (!this.ws || this.ws.readyState !== 1) return;
      this.ws.send(packet(KIND_AUDIO, seq++, e.data.pcm));
      this.sent.audio++;
    };
    src.connect(this.mic);
  }

  startPlayback() {
    this.player = new AudioWorkletNode(this.ctx, "ls-playback", {
      numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1],
      processorOptions: { inRate: RATE, prebuffer: Math.round((RATE * this.opts.prebufferMs) / 1000) },
    });
    this.player.connect(this.ctx.destination);
    this.player.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === "stats") this.playback = m;
      else if (m.type === "started") this.onStarted(m);
    };
  }

  // context time of a rendered sample -> performance.now() time it reaches the ear
  heardAt(ctxTime) {
    const ts = this.ctx.getOutputTimestamp ? this.ctx.getOutputTimestamp() : null;
    if (ts && ts.performanceTime > 0) return ts.performanceTime + (ctxTime - ts.contextTime) * 1000;
    const lat = (this.ctx.outputLatency || 0) + (this.ctx.baseLatency || 0);
    return performance.now() + (ctxTime - this.ctx.currentTime + lat) * 1000;
  }

  onStarted(m) {
    const t = this.heardAt(m.ctxTime); // the server clamps it to [sent, reported]
    this.heard.push({ reply: m.reply, t });
    this.send({ type: "played", reply: m.reply, t });
  }

  startVideo() {
    const video = this.el("ls-video");
    video.srcObject = this.stream;
    video.play().catch(() => {});
    const canvas = document.createElement("canvas");
    canvas.width = 160;
    canvas.height = 120;
    const g = canvas.getContext("2d");
    let seq = 0;
    this.videoTimer = setInterval(() => {
      if (!this.ws || this.ws.readyState !== 1 || video.readyState < 2) return;
      if (this.ws.bufferedAmount > 64 * 1024) { this.sent.videoSkipped++; return; } // never delay audio
      g.drawImage(video, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(async (blob) => {
        if (!blob || !this.ws || this.ws.readyState !== 1) return;
        this.ws.send(packet(KIND_VIDEO, seq++, await blob.arrayBuffer()));
        this.sent.video++;
      }, "image/jpeg", 0.7);
    }, 1000 / this.opts.fps);
  }

  ping() {
    this.send({ type: "ping", c: performance.now() });
  }

  sendStats() {
    this.send({ type: "stats", sent: this.sent, playback: this.playback });
    const p = this.playback;
    this.el("ls-meter").textContent =
      `mic sent ${(this.sent.audio * FRAME / RATE).toFixed(1)} s · video ${this.sent.video} frames · ` +
      `buffered ${((p.buffered || 0) / RATE * 1000).toFixed(0)} ms · underruns ${p.underruns || 0}`;
  }

  onMessage(data) {
    if (typeof data !== "string") {
      const dv = new DataView(data);
      if (dv.getUint8(0) === KIND_REPLY) {
        const pcm = data.slice(8);
        this.player.port.postMessage({ type: "audio", reply: dv.getUint32(4, true), pcm }, [pcm]);
      }
      return;
    }
    const m = JSON.parse(data);
    if (m.type === "pong") this.send({ type: "sync", c0: m.c, c1: performance.now(), s: m.s });
    else if (m.type === "flush") this.player.port.postMessage({ type: "flush" });
    else if (m.type === "duck" || m.type === "unduck") this.player.port.postMessage({ type: m.type });
    else if (m.type === "end_reply") this.player.port.postMessage({ type: "end" });
    else if (m.type === "text") this.onText(m);
    else if (m.type === "latency") this.onLatency(m);
    else if (m.type === "status") this.status(m.state + (m.agent ? ` (${m.agent})` : "") + (m.message ? `: ${m.message}` : ""));
  }

  onText(m) {
    const box = this.el("ls-transcript");
    let line = this.turnText.get(m.turn);
    if (!line) {
      line = document.createElement("div");
      line.className = "ls-line";
      box.appendChild(line);
      this.turnText.set(m.turn, line);
    }
    line.textContent = (line.textContent || "agent: ") + m.text;
    box.scrollTop = box.scrollHeight;
  }

  onLatency(m) {
    this.latency = m;
    const rows = [["mouth-to-ear", m.total_ms], ...Object.entries(m.stages)];
    this.el("ls-latency").innerHTML = rows
      .map(([k, v]) => `<tr><td>${k}</td><td>${v.toFixed(0)} ms</td></tr>`).join("");
  }

  snapshot() {
    return { sent: this.sent, playback: this.playback, heard: this.heard, latency: this.latency,
             transcript: this.el("ls-transcript").innerText, state: this.root.dataset.state,
             ctxRate: this.ctx ? this.ctx.sampleRate : null,
             outputLatency: this.ctx ? this.ctx.outputLatency : null,
             baseLatency: this.ctx ? this.ctx.baseLatency : null };
  }
}

export function mount(root, base = "") {
  if (root.__livesense) return root.__livesense;
  const client = new LiveClient(root, base);
  root.__livesense = client;
  window.__livesense = client;
  return client;
}
