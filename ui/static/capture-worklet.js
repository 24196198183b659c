// Mic capture on the audio thread: resample the context rate to 16 kHz (windowed-sinc
// low-pass + linear interpolation, streaming, no allocation per block) and post one Int16
// frame of `frame` samples (20 ms) at a time to the main thread, which only adds a header
// and sends it. Nothing else happens here.

function lowpass(taps, cutoff) {
  // cutoff as a fraction of the input rate; Blackman-windowed sinc, unit DC gain
  const h = new Float32Array(taps);
  const m = (taps - 1) / 2;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const x = i - m;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (taps - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (taps - 1));
    h[i] = sinc * w;
    sum += h[i];
  }
  for (let i = 0; i < taps; i++) h[i] /= sum;
  return h;
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions || {};
    this.outRate = o.targetRate || 16000;
    this.frame = o.frame || 320;
    this.step = sampleRate / this.outRate; // input samples per output sample
    this.taps = this.step > 1 ? lowpass(63, (0.45 * this.outRate) / sampleRate) : new Float32Array([1]);
    this.hist = new Float32Array(this.taps.length * 2); // doubled ring: contiguous window
    this.hpos = 0;
    this.inIndex = 0; // index of the next input sample
    this.nextOut = 0; // input-sample position of the next output sample
    this.prev = 0; // filtered sample at inIndex - 1
    this.buf = new Int16Array(this.frame);
    this.n = 0;
    this.frames = 0;
  }

  filter(x) {
    const n = this.taps.length;
    this.hist[this.hpos] = x;
    this.hist[this.hpos + n] = x;
    this.hpos = (this.hpos + 1) % n;
    let y = 0;
    const h = this.taps;
    const base = this.hpos; // oldest sample
    for (let k = 0; k < n; k++) y += h[k] * this.hist[base + k];
    return y;
  }

  push(v) {
    const s = v < -1 ? -1 : v > 1 ? 1 : v;
    this.buf[this.n++] = s < 0 ? s * 32768 : s * 32767;
    if (this.n === this.frame) {
      const out = this.buf;
      this.port.postMessage({ pcm: out.buffer, frame: this.frames++ }, [out.buffer]);
      this.buf = new Int16Array(this.frame);
      this.n = 0;
    }
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const ch = input[0];
    for (let i = 0; i < ch.length; i++) {
      const y = this.filter(ch[i]);
      const idx = this.inIndex;
      while (this.nextOut <= idx) {
        const frac = this.nextOut - (idx - 1); // in (0, 1]
        this.push(this.prev + (y - this.prev) * frac);
        this.nextOut += this.step;
      }
      this.prev = y;
      this.inIndex++;
    }
    return true;
  }
}

registerProcessor("ls-capture", CaptureProcessor);
