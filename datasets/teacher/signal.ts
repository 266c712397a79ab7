/** @file A recording read by the ingest readers, as the channel-major continuous signal teacher features work on. */
import { DatasetError } from '../errors.js';
import type { Recording } from '../ingest/recording.js';
import type { ContinuousSignal } from './types.js';

/**
 * Takes the named channels (all by default) of a gap-free recording into one channel-major float32 buffer. Its
 * clock is that of external event times (`startTime` = the recording's `timeOffset`), so event onsets from
 * annotations, BIDS events or NWB trials cut epochs directly. Filters need gap-free samples at one rate, so a
 * discontinuous recording or mixed rates are errors naming the file.
 */
export function signalFromRecording(recording: Recording, channels?: readonly string[]): ContinuousSignal & { data: Float32Array } {
  const name = recording.file;
  const names = channels ?? recording.channels.map((c) => c.name);
  if (names.length === 0) throw new DatasetError(`${name}: no channels selected for teacher features.`);
  if (recording.segments.length > 1) {
    throw new DatasetError(`${name}: the recording has ${recording.segments.length} separate segments; band power needs gap-free data, so cut the segments into separate recordings.`);
  }
  const index = names.map((n) => {
    const i = recording.channels.findIndex((c) => c.name === n);
    if (i < 0) throw new DatasetError(`${name}: no channel named '${n}'; the recording has ${recording.channels.map((c) => c.name).join(', ')}.`);
    return i;
  });
  const rate = recording.channels[index[0]!]!.rate;
  const samples = recording.data[index[0]!]!.length;
  for (const i of index) {
    const c = recording.channels[i]!;
    if (c.rate !== rate || recording.data[i]!.length !== samples) {
      throw new DatasetError(
        `${name}: channel '${c.name}' has ${recording.data[i]!.length} samples at ${c.rate} Hz but '${names[0]}' has ${samples} at ${rate} Hz; select channels of one rate.`,
      );
    }
  }
  const data = new Float32Array(index.length * samples);
  index.forEach((i, k) => data.set(recording.data[i]!, k * samples));
  return { data, channels: index.length, samples, sampleRate: rate, startTime: recording.timeOffset, channelNames: names };
}
