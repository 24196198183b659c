// Reply playback on the audio thread: a preallocated ring of 16 kHz samples, read at the
// context rate by linear interpolation. States: idle -> buffering (until `prebuffer` samples
// or the reply's end are queued) -> playing. Running dry before the reply ended is an
// underrun (counted once, then it re-buffers); running dry after end_reply is the end.
// `flush` (barge-in) drops everything queued at once. `duck` (a tentative barge-in) fades
// out over 5 ms and holds the read position (nothing dropped); `unduck` fades back in. When the first sample of a reply is
// output, the main thread is told its context time so it can report when it was heard.

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions || {};
    this.inRate = o.inRate || 16000;
    this.cap = o.capacity || this.inRate * 60;
    this.prebuffer = o.prebuffer || Math.round(this.inRate * 0.06);
    this.ring = new Float32Array(this.cap);
    this.w = 0; // absolute write index (samples)
    this.r = 0; // absolute (fractional) read position
    this.step = this.inRate / sampleRate;
    this.state = "idle";
    this.endAt = -1; // write index at the last end_reply
    this.starts = []; // [{reply, at}] first sample of each queued reply
    this.lastReply = -1;
    this.played = 0; // 16 kHz samples consumed while playing
    this.underruns = 0;
    this.overflows = 0;
    this.quanta = 0;
    this.held = false; // ducked: the read position stays where the fade ended
    this.gain = 1;
    this.fadeStep = 1 / (0.005 * sampleRate);
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(m) {
    if (m.type === "audio") this.write(m.reply, new Int16Array(m.pcm));
    else if (m.type === "end") this.endAt = this.w;
    else if (m.type === "flush") {
      this.r = this.w;
      this.starts = [];
      this.state = "idle";
      this.endAt = this.w;
      this.held = false;
      this.gain = 1;
    } else if (m.type === "duck") this.held = true;
    else if (m.type === "unduck") this.held = false;
    else if (m.type === "config") {
      if (m.prebuffer) this.prebuffer = m.prebuffer;
    }
  }

  write(reply, pcm) {
    if (reply !== this.lastReply) {
      this.starts.push({ reply, at: this.w });
      this.lastReply = reply;
    }
    if (this.w + pcm.length - Math.floor(this.r) > this.cap) {
      this.overflows++;
      return;
    }
    for (let i = 0; i < pcm.length; i++) this.ring[(this.w + i) % this.cap] = pcm[i] / 32768;
    this.w += pcm.length;
  }

  available() {
    return this.w - this.r;
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    const ended = this.endAt === this.w;
    for (let k = 0; k < out.length; k++) {
      this.gain = this.held ? Math.max(0, this.gain - this.fadeStep) : Math.min(1, this.gain + this.fadeStep);
      if (this.held && this.gain === 0) {
        out[k] = 0; // ducked: silent, nothing consumed
        continue;
      }
      if (this.state === "idle") {
        if (this.w > this.r) this.state = "buffering";
        else {
          out[k] = 0;
          continue;
        }
      }
      if (this.state === "buffering") {
        if (this.available() >= this.prebuffer || (ended && this.available() > 0)) this.state = "playing";
        else {
          out[k] = 0;
          continue;
        }
      }
      const i = Math.floor(this.r);
      if (i + 1 < this.w || (ended && i < this.w)) {
        if (this.starts.length && this.r >= this.starts[0].at) {
          const s = this.starts.shift();
          this.port.postMessage({ type: "started", reply: s.reply, ctxTime: currentTime + k / sampleRate });
        }
        const a = this.ring[i % this.cap];
        const b = i + 1 < this.w ? this.ring[(i + 1) % this.cap] : a;
        const f = this.r - i;
        out[k] = (a + (b - a) * f) * this.gain;
        const before = Math.floor(this.r);
        this.r += this.step;
        this.played += Math.floor(this.r) - before;
      } else {
        out[k] = 0;
        if (ended) {
          this.r = this.w;
          this.state = "idle";
        } else {
          this.underruns++;
          this.state = "buffering";
        }
      }
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    if (++this.quanta % 30 === 0) this.report();
    return true;
  }

  report() {
    this.port.postMessage({
      type: "stats",
      played: this.played,
      buffered: Math.max(0, Math.round(this.w - this.r)),
      underruns: this.underruns,
      overflows: this.overflows,
      state: this.state,
    });
  }
}

registerProcessor("ls-playback", PlaybackProcessor);
