/** @file The in-memory continuous recording every ingest reader produces, with its channels, annotations and time base. */

/** One recorded channel, its values already in `unit`. */
export interface RecordingChannel {
  name: string;
  /** BIDS channel type (`SEEG`, `ECOG`, `EEG`, `ECG`, `EOG`, `EMG`, `ADC`, `TRIG`, `MISC`, ...). */
  type: string;
  /** Unit of the values in `Recording.data`; voltages are always µV, written `uV`. */
  unit: string;
  /** Unit as written in the source file, before voltages were brought to µV. */
  storedUnit: string;
  /** Samples per second. */
  rate: number;
  /** Physical range the source declares for the channel, in `unit`. */
  physicalMin: number;
  physicalMax: number;
  transducer: string;
  prefiltering: string;
}

/** A marker in time, in seconds from the recording's first sample. */
export interface Annotation {
  onset: number;
  duration: number;
  text: string;
}

/**
 * A stretch of gap-free samples. `onset` is its time in seconds from the first sample; `offset` is where its first
 * sample sits in the concatenated `data`, in seconds (sample index = offset × rate). Continuous files have one.
 */
export interface RecordingSegment {
  onset: number;
  offset: number;
  duration: number;
}

/** A recording read from a file: channel `i` has its samples in `data[i]`. */
export interface Recording {
  file: string;
  /** `EDF`, `EDF+C`, `EDF+D`, `BDF`, `BDF+C`, `BDF+D`, ... */
  format: string;
  subject: string;
  /** Local wall-clock start of the first sample, ISO 8601 without a zone (EDF stores local time). */
  startTime: string;
  /** Seconds of signal held, gaps excluded. */
  duration: number;
  channels: RecordingChannel[];
  data: Float32Array[];
  annotations: Annotation[];
  segments: RecordingSegment[];
  /** Time of the first sample on the clock of external event times (NWB trials, BIDS events); 0 for EDF. */
  timeOffset: number;
}

const VOLTAGE_TO_MICRO: Record<string, number> = {
  V: 1e6,
  volt: 1e6,
  volts: 1e6,
  Volts: 1e6,
  mV: 1e3,
  millivolts: 1e3,
  uV: 1,
  'µV': 1,
  'μV': 1,
  microvolts: 1,
  nV: 1e-3,
};

/** How to bring a stored unit to the unit b2m keeps: voltages to µV (`uV`), everything else unchanged. */
export function normalizeUnit(stored: string): { unit: string; scale: number } {
  const scale = VOLTAGE_TO_MICRO[stored.trim()];
  return scale === undefined ? { unit: stored.trim(), scale: 1 } : { unit: 'uV', scale };
}

/** The segment that holds time `t`, or undefined in a gap. */
export function segmentAt(segments: readonly RecordingSegment[], t: number, rate: number): RecordingSegment | undefined {
  return segments.find((s) => t >= s.onset - 0.5 / rate && t < s.onset + s.duration);
}

/**
 * A continuous recording from a time-major `[time, channels]` matrix (a `.npy` array or CSV columns), every
 * channel of type `type` in `unit` at `rate` Hz.
 */
export function recordingFromMatrix(
  file: string,
  values: ArrayLike<number>,
  names: readonly string[],
  rate: number,
  options: { subject: string; type?: string; unit?: string; format: string; timeOffset?: number },
): Recording {
  const count = names.length;
  const samples = Math.floor(values.length / Math.max(count, 1));
  const { unit, scale } = normalizeUnit(options.unit ?? '');
  const data: Float32Array[] = [];
  const channels: RecordingChannel[] = names.map((name, c) => {
    const out = new Float32Array(samples);
    let lo = Infinity;
    let hi = -Infinity;
    for (let s = 0; s < samples; s++) {
      const v = values[s * count + c] * scale;
      out[s] = v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    data.push(out);
    return { name, type: options.type ?? 'MISC', unit, storedUnit: options.unit ?? '', rate, physicalMin: lo, physicalMax: hi, transducer: '', prefiltering: '' };
  });
  return {
    file,
    format: options.format,
    subject: options.subject,
    startTime: '',
    duration: samples / rate,
    channels,
    data,
    annotations: [],
    segments: [{ onset: 0, offset: 0, duration: samples / rate }],
    timeOffset: options.timeOffset ?? 0,
  };
}
