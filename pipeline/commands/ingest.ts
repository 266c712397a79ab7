/** @file `b2m ingest edf|bids|nwb|npy|csv|images IN --out DIR`: a real recording or image folder to a dataset directory of Arrow tables. */
import type { Argv, CommandModule } from 'yargs';
import { type Dataset } from '../../datasets/index.js';
import {
  ingestBidsIeeg,
  ingestCsv,
  ingestEdf,
  ingestImages,
  ingestNpy,
  ingestNwb,
  type RecordingIngestOptions,
} from '../../datasets/ingest/index.js';
import { UsageError } from '../errors.js';
import { b2mVersion } from '../package.js';
import { progressFor } from '../progress.js';
import type { GlobalOptions } from './global.js';
import { requireReadable, requireWritableDir } from './paths.js';

/** The formats `b2m ingest` reads. */
export const INGEST_FORMATS = ['edf', 'bids', 'nwb', 'npy', 'csv', 'images'] as const;
type IngestFormat = (typeof INGEST_FORMATS)[number];

interface IngestOptions extends GlobalOptions {
  format: IngestFormat;
  input: string;
  out: string;
  overwrite: boolean;
  name: string | undefined;
  subject: string | undefined;
  pre: number;
  post: number;
  conditions: string[] | undefined;
  val: number;
  test: number;
  seed: number;
  electrodes: string | undefined;
  bad: string[] | undefined;
  series: string | undefined;
  rate: number | undefined;
  events: string | undefined;
  conditionColumn: string | undefined;
  size: number;
  fit: 'fill' | 'cover' | 'contain';
}

const WHAT: Record<IngestFormat, string> = {
  edf: 'an EDF or EDF+ recording (.edf)',
  bids: "a BIDS-iEEG run's _ieeg.edf (its _channels.tsv, _events.tsv and _electrodes.tsv are found beside it)",
  nwb: 'an NWB file (.nwb, HDF5)',
  npy: 'a NumPy array (.npy): [trials, time, channels], or [time, channels] with --rate and --events',
  csv: 'a CSV file with one column per channel and one row per sample (with --rate and --events)',
  images: 'a folder of images (PNG, JPEG, WebP, TIFF) or one image',
};

function splitFraction(value: number, flag: string): number {
  if (!(value >= 0 && value < 1)) throw new UsageError(`${flag} is ${value}; give a fraction of the rows in [0, 1).`);
  return value;
}

/** The `ingest` stage. */
export const ingestCommand: CommandModule<GlobalOptions, IngestOptions> = {
  command: 'ingest <format> <input>',
  describe: 'Read real data (EDF, BIDS-iEEG, NWB, NumPy, CSV, images) into a dataset directory of Arrow tables',
  builder: (argv) => (argv as Argv<GlobalOptions>)
    .positional('format', { type: 'string', choices: INGEST_FORMATS, demandOption: true, describe: 'Input format' })
    .positional('input', { type: 'string', demandOption: true, describe: 'Input file or folder' })
    .option('out', { alias: 'o', type: 'string', demandOption: true, requiresArg: true, describe: 'Dataset directory to write' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'Replace an existing dataset directory once the new one is complete' })
    .option('name', { type: 'string', requiresArg: true, describe: 'Dataset name for the manifest' })
    .option('subject', { type: 'string', requiresArg: true, describe: 'Subject label (default: from the file)' })
    .option('pre', { type: 'number', default: 0.2, describe: 'Seconds kept before each event' })
    .option('post', { type: 'number', default: 0.8, describe: 'Seconds kept after each event' })
    .option('conditions', { type: 'string', array: true, describe: 'Only events with these conditions become trials' })
    .option('val', { type: 'number', default: 0.1, describe: 'Fraction of trials (or images) held out for validation' })
    .option('test', { type: 'number', default: 0.1, describe: 'Fraction held out for the final test' })
    .option('seed', { type: 'number', default: 0, describe: 'Seed of the split assignment' })
    .option('electrodes', { type: 'string', requiresArg: true, describe: 'edf: an electrodes TSV with positions and locations' })
    .option('bad', { type: 'string', array: true, describe: 'edf: channels to mark bad and leave out' })
    .option('series', { type: 'string', requiresArg: true, describe: 'nwb: name or path of the time series to read' })
    .option('rate', { type: 'number', requiresArg: true, describe: 'npy/csv: sampling rate (Hz) of a continuous recording' })
    .option('events', { type: 'string', requiresArg: true, describe: 'npy/csv: events file (TSV/CSV with onset and a condition column)' })
    .option('condition-column', { type: 'string', requiresArg: true, describe: 'Column of the events (or NWB trials) giving each trial\'s condition' })
    .option('size', { type: 'number', default: 64, describe: 'images: output height and width in pixels' })
    .option('fit', { type: 'string', choices: ['fill', 'cover', 'contain'] as const, default: 'cover' as const, describe: 'images: how frames are fitted to the size' })
    .example('$0 ingest edf rec.edf --out data/rec', 'EDF+ with annotations as events')
    .example('$0 ingest bids sub-01_ses-01_task-x_run-01_ieeg.edf --out data/sub01 --pre 0.5 --post 1.5', 'a BIDS-iEEG run')
    .example('$0 ingest npy epochs.npy --out data/np', 'a [trials, time, channels] array')
    .example('$0 ingest images dashcam/ --out data/scenes --size 64', 'road scenes for the scene VAE') as unknown as Argv<IngestOptions>,
  handler: async (args) => {
    const progress = progressFor(args);
    requireReadable(args.input, WHAT[args.format]);
    requireWritableDir(args.out, '--out');
    const splits = { val: splitFraction(args.val, '--val'), test: splitFraction(args.test, '--test'), seed: args.seed };
    if (splits.val + splits.test >= 1) throw new UsageError(`--val ${splits.val} and --test ${splits.test} leave no rows for training; keep their sum below 1.`);
    if (!(args.pre >= 0 && args.post > 0)) throw new UsageError(`--pre ${args.pre} and --post ${args.post} must be seconds ≥ 0 and > 0.`);
    const common = { version: b2mVersion, overwrite: args.overwrite, splits, ...(args.name ? { name: args.name } : {}) };
    const recording: RecordingIngestOptions = {
      ...common,
      window: { pre: args.pre, post: args.post },
      ...(args.conditions ? { conditions: args.conditions } : {}),
      ...(args.subject ? { subject: args.subject } : {}),
    };
    progress.info(`Reading ${args.input} (${args.format})…`);
    let dataset: Dataset;
    switch (args.format) {
      case 'edf':
        if (args.electrodes) requireReadable(args.electrodes, 'an electrodes TSV');
        dataset = await ingestEdf(args.input, args.out, { ...recording, ...(args.electrodes ? { electrodes: args.electrodes } : {}), ...(args.bad ? { bad: args.bad } : {}) });
        break;
      case 'bids':
        dataset = await ingestBidsIeeg(args.input, args.out, { ...recording, ...(args.conditionColumn ? { conditionColumn: args.conditionColumn } : {}) });
        break;
      case 'nwb':
        if (!args.series) throw new UsageError('b2m ingest nwb needs --series NAME, the time series to read (`b2m inspect FILE.nwb` lists them).');
        dataset = await ingestNwb(args.input, args.out, { ...recording, series: args.series, ...(args.conditionColumn ? { conditionColumn: args.conditionColumn } : {}) });
        break;
      case 'npy':
      case 'csv': {
        if (args.events) requireReadable(args.events, 'an events file (TSV or CSV with onset and a condition column)');
        const matrix = { ...recording, ...(args.rate !== undefined ? { rate: args.rate } : {}), ...(args.events ? { events: args.events } : {}), ...(args.conditionColumn ? { conditionColumn: args.conditionColumn } : {}) };
        dataset = args.format === 'npy' ? await ingestNpy(args.input, args.out, matrix) : await ingestCsv(args.input, args.out, matrix);
        break;
      }
      case 'images':
        dataset = await ingestImages(args.input, args.out, { ...common, height: args.size, width: args.size, fit: args.fit });
        break;
    }
    const tables = Object.values(dataset.tables).map((t) => ({ name: t.name, kind: t.kind, rows: t.rows, shapes: t.layout.tensors }));
    progress.result(
      [`Dataset written to ${dataset.dir}:`, ...tables.map((t) => `  ${t.name} (${t.kind}): ${t.rows} rows${Object.entries(t.shapes).map(([c, s]) => `, ${c} [${s.join(', ')}]`).join('')}`)].join('\n'),
      { dataset: dataset.dir, format: args.format, tables },
    );
  },
};
