"""Per-clip audio augmentation for the synthesized KWS set (float audio at 16 kHz, numpy Generator).

    warp_formants   vocal-tract-length / pitch change: every frequency scaled by a factor
    speed           tape-speed change (tempo and pitch together), for pre-synthesized words
    reverb          a synthetic room: exponentially decaying noise impulse response, RT60 drawn
    mic_eq          band-limiting (high-pass 50-400 Hz, low-pass 2.5-7.5 kHz) and a peaking bump
    contour         a smooth random pitch-and-tempo contour (time-varying resampling)
    channel         telephone band, laptop-microphone resonances, or a spectral tilt
    noise           white / pink / brown noise, mains hum with harmonics, or babble (other
                    synthesized words, a bank made once per set), unit RMS
    events          non-stationary household noise, unit RMS: clatter (dishes: struck objects
                    ringing at a few modes), throb (a machine: noise modulated at 0.5-8 Hz),
                    squeak (short gliding whistles with a harmonic or two)
"""
import numpy as np
import scipy.interpolate
import scipy.signal

SAMPLE_RATE = 16000
NOISE_KINDS = ("white", "pink", "brown", "hum", "babble")
EVENT_KINDS = ("clatter", "throb", "squeak")


def warp_formants(speech, factor):
    """Scale every frequency (pitch and formants, a vocal-tract-length change) by `factor`; the
    duration changes by 1/factor. FFT resampling to len/factor samples, played at the same rate."""
    return scipy.signal.resample(speech, max(1, int(round(len(speech) / factor))))


def speed(speech, factor):
    """Play `factor` times faster (polyphase resampling; pitch rises with it)."""
    from fractions import Fraction
    fr = Fraction(1 / factor).limit_denominator(64)
    return scipy.signal.resample_poly(speech, fr.numerator, fr.denominator)


def reverb(speech, rng):
    """Convolve with a synthetic room response: direct path + noise decaying with RT60 in
    [0.1, 0.7] s, wet/dry ratio drawn; the result keeps the input's peak."""
    rt60 = rng.uniform(0.1, 0.7)
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    ir = rng.normal(size=n) * np.exp(-6.9 * t / rt60)          # -60 dB at rt60
    ir[:int(rng.uniform(0.002, 0.01) * SAMPLE_RATE)] = 0       # pre-delay before reflections
    ir *= rng.uniform(0.2, 1.0) / (np.sqrt(np.sum(ir ** 2)) + 1e-12)
    ir[0] = 1.0
    out = scipy.signal.fftconvolve(speech, ir)[:len(speech) + n // 2]
    return out * (np.abs(speech).max() / (np.abs(out).max() + 1e-12))


def mic_eq(speech, rng):
    """A cheap microphone / channel: high-pass, low-pass and a +-6 dB peaking band."""
    sos = [scipy.signal.butter(2, rng.uniform(50, 400), "highpass", fs=SAMPLE_RATE, output="sos"),
           scipy.signal.butter(4, rng.uniform(2500, 7500), "lowpass", fs=SAMPLE_RATE, output="sos")]
    x = speech
    for s in sos:
        x = scipy.signal.sosfilt(s, x)
    f0, gain_db, q = rng.uniform(300, 3000), rng.uniform(-6, 6), rng.uniform(0.7, 2.0)
    b, a = _peaking(f0, gain_db, q)
    return scipy.signal.lfilter(b, a, x)


def contour(speech, rng, depth):
    """A smooth random pitch-and-tempo contour: the clip is read at a rate 2**(d(t)/12), d a
    cubic through random values in [-depth, depth] semitones, one every 0.1-0.25 s (linear
    interpolation between input samples). Frequencies at t are scaled by 2**(d(t)/12), the
    duration by the mean of 2**(-d/12). depth = 0 returns the input."""
    if depth <= 0 or len(speech) < 2:
        return speech
    n = len(speech)
    step = rng.uniform(0.1, 0.25) * SAMPLE_RATE
    knots = np.arange(0, n + 2 * step, step)
    d = rng.uniform(-depth, depth, len(knots))
    rate = 2 ** (scipy.interpolate.CubicSpline(knots, d)(np.arange(n)) / 12)
    pos = np.concatenate([[0.0], np.cumsum(rate)])
    pos = pos[pos <= n - 1]
    return np.interp(pos, np.arange(n), speech)


CHANNELS = ("telephone", "laptop", "tilt")


def channel(speech, rng, kind=None):
    """A recording channel (kind drawn from CHANNELS if None):
    telephone  4th-order band-pass 250-400 Hz .. 3.0-3.6 kHz;
    laptop     high-pass 150-500 Hz, two resonances +4..+12 dB at 1.5-6 kHz (Q 2-5), low-pass
               5-7.5 kHz;
    tilt       spectral slope -6..+6 dB/octave about 1 kHz (flat below 100 Hz), by FFT.
    The result keeps the input's peak."""
    kind = CHANNELS[int(rng.integers(len(CHANNELS)))] if kind is None else kind
    x = np.asarray(speech, np.float64)
    if kind == "telephone":
        sos = scipy.signal.butter(4, [rng.uniform(250, 400), rng.uniform(3000, 3600)], "bandpass",
                                  fs=SAMPLE_RATE, output="sos")
        x = scipy.signal.sosfilt(sos, x)
    elif kind == "laptop":
        x = scipy.signal.sosfilt(scipy.signal.butter(2, rng.uniform(150, 500), "highpass",
                                                     fs=SAMPLE_RATE, output="sos"), x)
        for _ in range(2):
            b, a = _peaking(rng.uniform(1500, 6000), rng.uniform(4, 12), rng.uniform(2, 5))
            x = scipy.signal.lfilter(b, a, x)
        x = scipy.signal.sosfilt(scipy.signal.butter(4, rng.uniform(5000, 7500), "lowpass",
                                                     fs=SAMPLE_RATE, output="sos"), x)
    elif kind == "tilt":
        slope = rng.uniform(-6, 6)
        spec = np.fft.rfft(x)
        f = np.maximum(np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE), 100.0)
        x = np.fft.irfft(spec * (f / 1000.0) ** (slope / (20 * np.log10(2))), len(x))
    else:
        raise ValueError(f"channel: unknown kind {kind!r}; known: {CHANNELS}")
    return x * (np.abs(speech).max() / (np.abs(x).max() + 1e-12))


def _peaking(f0, gain_db, q):
    """RBJ audio-EQ-cookbook peaking filter coefficients."""
    a_ = 10 ** (gain_db / 40)
    w = 2 * np.pi * f0 / SAMPLE_RATE
    alpha = np.sin(w) / (2 * q)
    b = np.array([1 + alpha * a_, -2 * np.cos(w), 1 - alpha * a_])
    a = np.array([1 + alpha / a_, -2 * np.cos(w), 1 - alpha / a_])
    return b / a[0], a / a[0]


def noise(rng, n, kind=None, babble=None):
    """Unit-RMS noise of `kind` (NOISE_KINDS; drawn if None; babble needs the bank `babble`,
    a long 1-D float array of speech, else falls back to pink)."""
    if kind is None:
        kind = NOISE_KINDS[int(rng.integers(len(NOISE_KINDS) if babble is not None else 4))]
    if kind == "babble" and babble is not None and len(babble) > n:
        x = np.zeros(n)
        for _ in range(int(rng.integers(2, 6))):               # 2-5 talkers
            start = int(rng.integers(0, len(babble) - n))
            x += babble[start:start + n] * rng.uniform(0.5, 1.0)
    elif kind == "hum":
        t = np.arange(n) / SAMPLE_RATE
        f0 = rng.choice([50.0, 60.0])
        x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.3)) / h for h in (1, 2, 3, 5))
        x = x + 0.1 * rng.normal(size=n)
    else:
        colour = {"white": 0, "pink": 1, "brown": 2}.get(kind, 1)
        spec = np.fft.rfft(rng.normal(size=n))
        f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
        spec /= f ** (colour / 2.0)
        x = np.fft.irfft(spec, n)
    return _unit(x)


def _unit(x):
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def events(rng, n, kind=None):
    """Unit-RMS non-stationary noise of `kind` (EVENT_KINDS; drawn if None) over a quiet
    coloured floor (-40..-15 dB under the events)."""
    kind = EVENT_KINDS[int(rng.integers(len(EVENT_KINDS)))] if kind is None else kind
    t = np.arange(n) / SAMPLE_RATE
    x = np.zeros(n)
    if kind == "clatter":                         # 1-12 impacts, each 1-4 damped modes
        for _ in range(int(rng.integers(1, 13))):
            start = int(rng.integers(0, n - 160))
            tt = t[:n - start]
            hit = sum(rng.uniform(0.2, 1.0) * np.exp(-tt / rng.uniform(0.005, 0.15))
                      * np.sin(2 * np.pi * rng.uniform(500, 7000) * tt + rng.uniform(0, 6.3))
                      for _ in range(int(rng.integers(1, 5))))
            burst = np.zeros(len(tt))
            k = int(rng.integers(16, 80))
            burst[:k] = rng.normal(size=min(k, len(tt))) * np.exp(-np.arange(min(k, len(tt))) / (k / 4))
            x[start:] += (hit + 0.5 * burst) * 10 ** (rng.uniform(-20, 0) / 20)
    elif kind == "throb":                         # noise (or a hum) modulated at 0.5-8 Hz
        base = noise(rng, n, ("white", "pink", "brown", "hum")[int(rng.integers(4))])
        f, depth = rng.uniform(0.5, 8.0), rng.uniform(0.5, 1.0)
        wave = np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
        env = 1 + depth * (np.sign(wave) if rng.random() < 0.3 else wave)   # square or sine
        x = base * np.maximum(env, 0)
    else:                                         # squeak: 1-4 gliding whistles, 50-400 ms
        for _ in range(int(rng.integers(1, 5))):
            dur = int(rng.uniform(0.05, 0.4) * SAMPLE_RATE)
            start = int(rng.integers(0, n - dur))
            f0 = np.exp(np.linspace(np.log(rng.uniform(600, 4000)), np.log(rng.uniform(600, 4000)), dur))
            ph = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
            tone = sum(rng.uniform(0.1, 1.0) ** (h - 1) * np.sin(h * ph) for h in range(1, int(rng.integers(1, 4)) + 1))
            x[start:start + dur] += tone * np.hanning(dur) * 10 ** (rng.uniform(-12, 0) / 20)
    x = _unit(x)
    return _unit(x + noise(rng, n, ("white", "pink", "brown")[int(rng.integers(3))])
                 * 10 ** (rng.uniform(-40, -15) / 20))
