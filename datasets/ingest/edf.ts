/** @file EDF/EDF+ (and 24-bit BDF/BDF+) reader: strict header checks, data records read in chunks, physical scaling, TAL annotations. */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { DatasetError } from '../errors.js';
import { normalizeUnit, type Annotation, type Recording, type RecordingChannel, type RecordingSegment } from './recording.js';

/** One signal's header fields, as written. */
export interface EdfSignalHeader {
  label: string;
  transducer: string;
  physicalDimension: string;
  physicalMin: number;
  physicalMax: number;
  digitalMin: number;
  digitalMax: number;
  prefiltering: string;
  samplesPerRecord: number;
}

/** The fixed header and the per-signal headers of an EDF or BDF file. */
export interface EdfHeader {
  /** `EDF` or `BDF`; a `+C`/`+D` suffix marks EDF+/BDF+ continuous or discontinuous. */
  format: string;
  bytesPerSample: 2 | 3;
  patient: string;
  recording: string;
  startDate: string;
  startTime: string;
  headerBytes: number;
  recordCount: number;
  recordDuration: number;
  signals: EdfSignalHeader[];
}

export interface EdfReadOptions {
  /** Type given to channels whose label does not name one (EDF+ `EEG Fpz-Cz` style, `ECG`, `EKG`, `EOG`, `EMG`, `DC01`). */
  defaultType?: string;
  /** Subject label stored on the recording; defaults to the EDF+ patient code, else the file name. */
  subject?: string;
  /** Bytes read per chunk of data records. */
  chunkBytes?: number;
}

const FIXED_HEADER = 256;
const SIGNAL_HEADER = 256;
const SIGNAL_FIELDS: [keyof EdfSignalHeader | 'reserved', number][] = [
  ['label', 16],
  ['transducer', 80],
  ['physicalDimension', 8],
  ['physicalMin', 8],
  ['physicalMax', 8],
  ['digitalMin', 8],
  ['digitalMax', 8],
  ['prefiltering', 80],
  ['samplesPerRecord', 8],
  ['reserved', 32],
];
const FIELD_NAMES: Record<string, string> = {
  physicalMin: 'physical minimum',
  physicalMax: 'physical maximum',
  digitalMin: 'digital minimum',
  digitalMax: 'digital maximum',
  samplesPerRecord: 'number of samples in each data record',
};
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const TAL_ONSET = /^[+-]\d+(\.\d*)?$/;
const TAL_DURATION = /^\d+(\.\d*)?$/;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

function ascii(buf: Uint8Array, start: number, length: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, length).toString('latin1').trim();
}

function isAnnotationSignal(label: string): boolean {
  return label === 'EDF Annotations' || label === 'BDF Annotations';
}

/** BIDS channel type from an EDF label, falling back to `defaultType`. */
export function channelTypeFromLabel(label: string, defaultType: string): string {
  const head = label.split(/[\s-]/)[0].toUpperCase();
  if (/^(ECG|EKG)\d*$/.test(head)) return 'ECG';
  if (/^[VH]?EOG\d*$/.test(head)) return 'EOG';
  if (/^EMG\d*$/.test(head)) return 'EMG';
  if (head === 'EEG' && label.includes(' ')) return 'EEG';
  if (/^(RESP|TEMP|SAO2|LIGHT|SOUND)$/.test(head)) return 'MISC';
  if (/^(EVENT|STATUS|TRIG\d*|STI\d*)$/.test(head)) return 'TRIG';
  // Nihon Kohden and similar amplifiers name their analog DC inputs DC01, DC02, ...
  if (/^DC\d+$/.test(head)) return 'ADC';
  return defaultType;
}

function parseFixedHeader(file: string, buf: Uint8Array): Omit<EdfHeader, 'signals'> & { signalCount: number } {
  const name = path.basename(file);
  let format: string;
  let bytesPerSample: 2 | 3;
  if (buf[0] === 0xff && ascii(buf, 1, 7) === 'BIOSEMI') {
    format = 'BDF';
    bytesPerSample = 3;
  } else if (ascii(buf, 0, 8) === '0') {
    format = 'EDF';
    bytesPerSample = 2;
  } else {
    throw new DatasetError(
      `${name}: header field 'version' is '${ascii(buf, 0, 8)}', expected '0' (EDF) or 0xFF 'BIOSEMI' (BDF); is this an EDF file?`,
    );
  }
  const reserved = ascii(buf, 192, 44);
  if (reserved.startsWith('EDF+') || reserved.startsWith('BDF+')) {
    const kind = reserved.slice(4, 5);
    if (kind !== 'C' && kind !== 'D') {
      throw new DatasetError(`${name}: header field 'reserved' is '${reserved}', expected 'EDF+C' or 'EDF+D' for an EDF+ file`);
    }
    format += `+${kind}`;
  }
  const int = (start: number, length: number, field: string): number => {
    const text = ascii(buf, start, length);
    if (!INTEGER.test(text)) throw new DatasetError(`${name}: header field '${field}' is '${text}', not an integer; the header is corrupt`);
    return Number(text);
  };
  const headerBytes = int(184, 8, 'number of bytes in header record');
  const recordCount = int(236, 8, 'number of data records');
  const durationText = ascii(buf, 244, 8);
  if (!NUMBER.test(durationText) || Number(durationText) < 0) {
    throw new DatasetError(`${name}: header field 'duration of a data record' is '${durationText}', not a non-negative number of seconds`);
  }
  const signalCount = int(252, 4, 'number of signals');
  if (signalCount < 1) throw new DatasetError(`${name}: header field 'number of signals' is ${signalCount}; a file needs at least one signal`);
  if (headerBytes !== FIXED_HEADER + SIGNAL_HEADER * signalCount) {
    throw new DatasetError(
      `${name}: header field 'number of bytes in header record' is ${headerBytes}, but ${signalCount} signals need ` +
        `${FIXED_HEADER + SIGNAL_HEADER * signalCount} (256 + 256 per signal); the header is inconsistent`,
    );
  }
  if (recordCount < -1) throw new DatasetError(`${name}: header field 'number of data records' is ${recordCount}; it must be ≥ 0 (or -1 while recording)`);
  return {
    format,
    bytesPerSample,
    patient: ascii(buf, 8, 80),
    recording: ascii(buf, 88, 80),
    startDate: ascii(buf, 168, 8),
    startTime: ascii(buf, 176, 8),
    headerBytes,
    recordCount,
    recordDuration: Number(durationText),
    signalCount,
  };
}

function parseSignalHeaders(file: string, buf: Uint8Array, count: number, bytesPerSample: 2 | 3): EdfSignalHeader[] {
  const name = path.basename(file);
  const text: Record<string, string[]> = {};
  let offset = FIXED_HEADER;
  for (const [field, width] of SIGNAL_FIELDS) {
    text[field] = [];
    for (let i = 0; i < count; i++) text[field].push(ascii(buf, offset + i * width, width));
    offset += width * count;
  }
  const digitalLimit = bytesPerSample === 2 ? 32768 : 8388608;
  const signals: EdfSignalHeader[] = [];
  for (let i = 0; i < count; i++) {
    const label = text.label[i];
    const where = `signal ${i + 1} ('${label}')`;
    const num = (field: keyof typeof FIELD_NAMES, integer: boolean): number => {
      const value = text[field][i];
      if (!(integer ? INTEGER : NUMBER).test(value)) {
        throw new DatasetError(`${name}: ${where} header field '${FIELD_NAMES[field]}' is '${value}', not ${integer ? 'an integer' : 'a number'}`);
      }
      return Number(value);
    };
    const signal: EdfSignalHeader = {
      label,
      transducer: text.transducer[i],
      physicalDimension: text.physicalDimension[i],
      physicalMin: num('physicalMin', false),
      physicalMax: num('physicalMax', false),
      digitalMin: num('digitalMin', true),
      digitalMax: num('digitalMax', true),
      prefiltering: text.prefiltering[i],
      samplesPerRecord: num('samplesPerRecord', true),
    };
    if (signal.samplesPerRecord < 1) {
      throw new DatasetError(`${name}: ${where} has ${signal.samplesPerRecord} samples per data record; it must be at least 1`);
    }
    if (signal.digitalMax <= signal.digitalMin || signal.digitalMin < -digitalLimit || signal.digitalMax >= digitalLimit) {
      throw new DatasetError(
        `${name}: ${where} has digital range [${signal.digitalMin}, ${signal.digitalMax}]; it must increase and fit ` +
          `${bytesPerSample * 8}-bit integers`,
      );
    }
    if (signal.physicalMax === signal.physicalMin) {
      throw new DatasetError(`${name}: ${where} has equal physical minimum and maximum (${signal.physicalMin}); the scale is undefined`);
    }
    signals.push(signal);
  }
  return signals;
}

/** Local start time as ISO 8601 without a zone; EDF+ `Startdate dd-MMM-yyyy` supplies the 4-digit year when present. */
function startTimeOf(file: string, header: Omit<EdfHeader, 'signals'>, subSecond: number): string {
  const name = path.basename(file);
  const date = /^(\d\d)\.(\d\d)\.(\d\d)$/.exec(header.startDate);
  const time = /^(\d\d)\.(\d\d)\.(\d\d)$/.exec(header.startTime);
  if (!date) throw new DatasetError(`${name}: header field 'startdate' is '${header.startDate}', expected dd.mm.yy`);
  if (!time) throw new DatasetError(`${name}: header field 'starttime' is '${header.startTime}', expected hh.mm.ss`);
  const yy = Number(date[3]);
  let year = yy >= 85 ? 1900 + yy : 2000 + yy;
  const plus = /^Startdate (\d\d)-([A-Z]{3})-(\d{4})\b/.exec(header.recording);
  if (plus && MONTHS.indexOf(plus[2]) >= 0) year = Number(plus[3]);
  const seconds = Number(time[3]) + subSecond;
  const whole = Math.floor(seconds);
  const fraction = Math.round((seconds - whole) * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${year}-${date[2]}-${date[1]}T${time[1]}:${time[2]}:${pad(whole)}.${pad(fraction, 3)}`;
}

/** Reads and checks the header of an EDF or BDF file without touching its data records. */
export async function readEdfHeader(file: string): Promise<EdfHeader> {
  const handle = await openForReading(file);
  try {
    return await headerFrom(file, handle, (await handle.stat()).size);
  } finally {
    await handle.close();
  }
}

async function openForReading(file: string) {
  try {
    return await open(file, 'r');
  } catch (err) {
    throw new DatasetError(`${file}: cannot open the EDF file (${(err as NodeJS.ErrnoException).code ?? String(err)}); check the path`);
  }
}

async function headerFrom(file: string, handle: Awaited<ReturnType<typeof open>>, size: number): Promise<EdfHeader> {
  const name = path.basename(file);
  if (size < FIXED_HEADER) throw new DatasetError(`${name}: the file has ${size} bytes, fewer than the 256-byte EDF header; it is truncated`);
  const fixed = new Uint8Array(FIXED_HEADER);
  await handle.read(fixed, 0, FIXED_HEADER, 0);
  const head = parseFixedHeader(file, fixed);
  if (size < head.headerBytes) {
    throw new DatasetError(
      `${name}: the header declares ${head.signalCount} signals (${head.headerBytes} header bytes) but the file has only ${size} bytes; it is truncated`,
    );
  }
  const full = new Uint8Array(head.headerBytes);
  await handle.read(full, 0, head.headerBytes, 0);
  const signals = parseSignalHeaders(file, full, head.signalCount, head.bytesPerSample);
  const recordBytes = signals.reduce((sum, s) => sum + s.samplesPerRecord, 0) * head.bytesPerSample;
  const dataBytes = size - head.headerBytes;
  let recordCount = head.recordCount;
  if (recordCount === -1) {
    if (dataBytes % recordBytes !== 0) {
      throw new DatasetError(
        `${name}: 'number of data records' is -1 (unknown) and the ${dataBytes} data bytes are not a whole number of ` +
          `${recordBytes}-byte records; the file is truncated`,
      );
    }
    recordCount = dataBytes / recordBytes;
  } else if (dataBytes !== recordCount * recordBytes) {
    const whole = Math.floor(dataBytes / recordBytes);
    throw new DatasetError(
      `${name}: the header declares ${recordCount} data records of ${recordBytes} bytes (${recordCount * recordBytes} bytes ` +
        `after the ${head.headerBytes}-byte header) but the file holds ${dataBytes} bytes there (${whole} whole records` +
        `${dataBytes < recordCount * recordBytes ? '); the file is truncated' : ' and more'}); the header's record count or signal ` +
        `sizes do not match the data`,
    );
  }
  const { signalCount: _count, ...rest } = head;
  return { ...rest, recordCount, signals };
}

interface TalParse {
  recordOnset: number;
  annotations: Annotation[];
}

/** Parses one data record's annotation bytes: `+onset[\x15duration]\x14text\x14...\x00`, the first TAL keeping time. */
function parseTals(name: string, record: number, bytes: Uint8Array, label: string, decoder: TextDecoder): TalParse {
  let recordOnset = Number.NaN;
  const annotations: Annotation[] = [];
  let pos = 0;
  let first = true;
  while (pos < bytes.length) {
    if (bytes[pos] === 0) {
      pos++;
      continue;
    }
    let end = bytes.indexOf(0, pos);
    if (end < 0) end = bytes.length;
    const where = `data record ${record + 1}, '${label}' signal, byte ${pos}`;
    const parts = decoder.decode(bytes.subarray(pos, end)).split('\x14');
    if (parts.length < 2 || parts[parts.length - 1] !== '') {
      throw new DatasetError(`${name}: ${where}: annotation list '${parts.join('\\x14')}' does not end with \\x14 before \\x00 (EDF+ TAL format)`);
    }
    const [onsetText, durationText] = parts[0].split('\x15');
    if (!TAL_ONSET.test(onsetText)) throw new DatasetError(`${name}: ${where}: annotation onset '${onsetText}' is not a signed number like +1.5`);
    if (durationText !== undefined && durationText !== '' && !TAL_DURATION.test(durationText)) {
      throw new DatasetError(`${name}: ${where}: annotation duration '${durationText}' is not a non-negative number`);
    }
    const onset = Number(onsetText);
    const duration = durationText ? Number(durationText) : 0;
    const texts = parts.slice(1, -1);
    if (first && texts[0] === '') {
      recordOnset = onset;
      texts.shift();
    }
    first = false;
    for (const text of texts) if (text !== '') annotations.push({ onset, duration, text });
    pos = end + 1;
  }
  return { recordOnset, annotations };
}

/**
 * Reads an EDF, EDF+, BDF or BDF+ file. Voltages come out in µV whatever the file stores; annotation onsets are in
 * seconds from the first sample. Every header inconsistency, a truncated file and a malformed annotation throw a
 * `DatasetError` naming the file and the signal, field or data record.
 */
export async function readEdf(file: string, options: EdfReadOptions = {}): Promise<Recording> {
  const name = path.basename(file);
  const handle = await openForReading(file);
  try {
    const header = await headerFrom(file, handle, (await handle.stat()).size);
    const { signals, recordCount, bytesPerSample } = header;
    const plus = header.format.includes('+');
    const discontinuous = header.format.endsWith('+D');
    const offsets: number[] = [];
    let recordBytes = 0;
    for (const s of signals) {
      offsets.push(recordBytes);
      recordBytes += s.samplesPerRecord * bytesPerSample;
    }
    const dataSignals: number[] = [];
    const annotationSignals: number[] = [];
    signals.forEach((s, i) => (isAnnotationSignal(s.label) ? annotationSignals : dataSignals).push(i));
    if (plus && annotationSignals.length === 0) {
      throw new DatasetError(`${name}: the header says ${header.format} but no signal is labelled 'EDF Annotations'; EDF+ requires one`);
    }
    const defaultType = options.defaultType ?? 'EEG';
    const channels: RecordingChannel[] = [];
    const gains = new Float64Array(dataSignals.length);
    const shifts = new Float64Array(dataSignals.length);
    const data: Float32Array[] = [];
    for (const [k, i] of dataSignals.entries()) {
      const s = signals[i];
      const { unit, scale } = normalizeUnit(s.physicalDimension);
      const gain = (s.physicalMax - s.physicalMin) / (s.digitalMax - s.digitalMin);
      gains[k] = gain * scale;
      shifts[k] = (s.physicalMin - s.digitalMin * gain) * scale;
      const rate = header.recordDuration > 0 ? s.samplesPerRecord / header.recordDuration : 0;
      if (!(rate > 0)) {
        throw new DatasetError(`${name}: data record duration is ${header.recordDuration} s, so signal '${s.label}' has no sampling rate; only annotation-only files may use 0`);
      }
      channels.push({
        name: s.label,
        type: channelTypeFromLabel(s.label, defaultType),
        unit,
        storedUnit: s.physicalDimension,
        rate,
        physicalMin: s.physicalMin * scale,
        physicalMax: s.physicalMax * scale,
        transducer: s.transducer,
        prefiltering: s.prefiltering,
      });
      data.push(new Float32Array(recordCount * s.samplesPerRecord));
    }
    const recordOnsets = new Float64Array(recordCount);
    const annotations: Annotation[] = [];
    const decoder = new TextDecoder('utf-8', { fatal: false });
    const chunkRecords = Math.max(1, Math.floor((options.chunkBytes ?? 4 << 20) / recordBytes));
    const chunk = new Uint8Array(Math.min(chunkRecords, Math.max(recordCount, 1)) * recordBytes);
    for (let r0 = 0; r0 < recordCount; r0 += chunkRecords) {
      const n = Math.min(chunkRecords, recordCount - r0);
      const { bytesRead } = await handle.read(chunk, 0, n * recordBytes, header.headerBytes + r0 * recordBytes);
      if (bytesRead !== n * recordBytes) {
        throw new DatasetError(`${name}: data record ${r0 + 1} ends early (read ${bytesRead} of ${n * recordBytes} bytes); the file changed or is truncated`);
      }
      for (let r = 0; r < n; r++) {
        const base = r * recordBytes;
        for (let k = 0; k < dataSignals.length; k++) {
          const spr = signals[dataSignals[k]].samplesPerRecord;
          const out = data[k];
          const gain = gains[k];
          const shift = shifts[k];
          let p = base + offsets[dataSignals[k]];
          let q = (r0 + r) * spr;
          if (bytesPerSample === 2) {
            for (let j = 0; j < spr; j++, p += 2) out[q++] = (((chunk[p] | (chunk[p + 1] << 8)) << 16) >> 16) * gain + shift;
          } else {
            for (let j = 0; j < spr; j++, p += 3) out[q++] = (((chunk[p] | (chunk[p + 1] << 8) | (chunk[p + 2] << 16)) << 8) >> 8) * gain + shift;
          }
        }
        recordOnsets[r0 + r] = (r0 + r) * header.recordDuration;
        for (const [a, i] of annotationSignals.entries()) {
          const start = base + offsets[i];
          const tals = parseTals(name, r0 + r, chunk.subarray(start, start + signals[i].samplesPerRecord * bytesPerSample), signals[i].label, decoder);
          if (a === 0 && plus) {
            if (Number.isNaN(tals.recordOnset)) {
              throw new DatasetError(`${name}: data record ${r0 + 1 + r} has no time-keeping annotation (+onset\\x14\\x14) in its first 'EDF Annotations' signal, as EDF+ requires`);
            }
            recordOnsets[r0 + r] = tals.recordOnset;
          }
          annotations.push(...tals.annotations);
        }
      }
    }
    const firstOnset = recordCount > 0 ? recordOnsets[0] : 0;
    const segments = segmentsOf(name, recordOnsets, header.recordDuration, firstOnset, discontinuous);
    for (const a of annotations) a.onset -= firstOnset;
    annotations.sort((x, y) => x.onset - y.onset);
    return {
      file,
      format: header.format,
      subject: options.subject ?? subjectOf(header.patient, file),
      startTime: startTimeOf(file, header, firstOnset),
      duration: recordCount * header.recordDuration,
      channels,
      data,
      annotations,
      segments,
      timeOffset: 0,
    };
  } finally {
    await handle.close();
  }
}

/** Gap-free stretches from the records' onsets; continuous files must have records exactly one duration apart. */
function segmentsOf(name: string, onsets: Float64Array, duration: number, first: number, discontinuous: boolean): RecordingSegment[] {
  const segments: RecordingSegment[] = [];
  const counts: number[] = [];
  const tolerance = 1e-6 + duration * 1e-6;
  for (let r = 0; r < onsets.length; r++) {
    const onset = onsets[r] - first;
    const k = segments.length - 1;
    if (k >= 0) {
      const end = segments[k].onset + counts[k] * duration;
      if (Math.abs(end - onset) <= tolerance) {
        counts[k]++;
        continue;
      }
      if (!discontinuous) {
        throw new DatasetError(
          `${name}: data record ${r + 1} starts at ${onsets[r]} s but the previous record ends at ${first + end} s; ` +
            `an EDF+C file must be gap-free (mark it EDF+D if it has gaps)`,
        );
      }
      if (onset < end) {
        throw new DatasetError(`${name}: data record ${r + 1} starts at ${onsets[r]} s, before the previous record ends; records must be in time order`);
      }
    }
    segments.push({ onset, offset: r * duration, duration: 0 });
    counts.push(1);
  }
  segments.forEach((s, k) => (s.duration = counts[k] * duration));
  return segments;
}

/** EDF+ patient field: `code sex birthdate name`; `X` means unknown. */
function subjectOf(patient: string, file: string): string {
  const code = patient.split(' ')[0];
  return code && code !== 'X' ? code : path.basename(file).replace(/\.[^.]+$/, '');
}
