/**
 * The queue: one row per job with its label, status (and a time estimate while it runs), a
 * progress bar, the live preview (then the finished image) and a cancel button.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { GenerationProgress } from '../../common/engine-types.js';
import { estimateRemainingMs, formatRemaining } from '../jobs/estimate-remaining.js';
import { isEnded, type Job } from '../jobs/job.js';
import { Icon } from './icons.js';

/** The status column's words for a job; `decodeMs` feeds the running job's estimate. */
export function statusText(job: Job, decodeMs?: number): string {
  switch (job.status) {
    case 'queued':
      return 'Queued';
    case 'exporting':
      return 'Reading source…';
    case 'running': {
      if (job.step === 0) return 'Starting…';
      const left = estimateRemainingMs(job, decodeMs);
      return `Step ${job.step}/${job.total}${left === null ? '' : ` · ${formatRemaining(left)}`}`;
    }
    case 'placing':
      return 'Placing…';
    case 'done':
      return job.elapsedMs !== undefined ? `Done · ${(job.elapsedMs / 1000).toFixed(1)} s` : 'Done';
    case 'skipped':
      return job.skipCode === 'deleted' ? 'Skipped · layer deleted' : job.skipCode === 'locked' ? 'Skipped · layer locked' : 'Skipped';
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return 'Cancelled';
  }
}

function Preview({ preview, hidden }: { preview?: GenerationProgress['preview']; hidden: boolean }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const element = canvas.current;
    if (!element || !preview) return;
    element.width = preview.width;
    element.height = preview.height;
    const context = element.getContext('2d');
    if (!context) return;
    const pixels = new Uint8ClampedArray(preview.width * preview.height * 4);
    pixels.set(preview.rgba.subarray(0, pixels.length));
    context.putImageData(new ImageData(pixels, preview.width, preview.height), 0, 0);
  }, [preview]);
  return <canvas ref={canvas} width={4} height={4} aria-hidden="true" hidden={hidden} />;
}

function Thumbnail({ png }: { png: Uint8Array }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    const objectUrl = URL.createObjectURL(new Blob([png.slice()], { type: 'image/png' }));
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [png]);
  return url ? <img class="ff-thumb" alt="" src={url} /> : null;
}

function JobRow({ job, decodeMs, onCancel }: { job: Job; decodeMs?: number; onCancel: (jobId: string) => void }) {
  const fraction = job.status === 'done' ? 1 : job.total > 0 ? job.step / job.total : 0;
  const ended = isEnded(job.status);
  return (
    <div class={`ff-job is-${job.status}`} data-job-id={job.jobId} data-status={job.status} data-step={String(job.step)}>
      {/* The finished image replaces the live preview (kept, hidden, with the last step drawn). */}
      <Preview preview={job.preview} hidden={job.resultPng !== undefined} />
      {job.resultPng && <Thumbnail png={job.resultPng} />}
      <div class="ff-job-body">
        <div class="ff-job-title">
          <span
            title={`${job.request.prompt} · seed ${job.request.seed} · ${job.request.width}×${job.request.height}${job.sourceNodeId ? ' · image variation' : ''}`}
          >
            {job.label}
          </span>
          <span class="ff-job-status">{statusText(job, decodeMs)}</span>
        </div>
        <div class="ff-progress">
          <div style={{ width: `${Math.round(fraction * 100)}%` }} />
        </div>
        {(job.status === 'failed' || job.status === 'skipped') && job.reason && <div class="ff-job-error">{job.reason}</div>}
      </div>
      {/* Hidden but still laid out, so finished and running rows line up. */}
      <button
        class="ff-icon-button"
        type="button"
        title="Cancel this job"
        aria-label="Cancel this job"
        style={{ visibility: ended ? 'hidden' : 'visible' }}
        onClick={() => onCancel(job.jobId)}
      >
        <Icon name="close" />
      </button>
    </div>
  );
}

export function JobList({
  jobs,
  decodeMs,
  onCancel,
  onCancelAll,
  onClear,
}: {
  jobs: readonly Job[];
  decodeMs?: number;
  onCancel: (jobId: string) => void;
  onCancelAll: () => void;
  onClear: () => void;
}) {
  return (
    <section class="ff-section" id="ff-queue">
      <div class="ff-section-head">
        <span>Queue</span>
        <span class="ff-inline">
          <button
            class="ff-button is-small"
            type="button"
            id="ff-clear-jobs"
            disabled={!jobs.some((j) => isEnded(j.status))}
            onClick={onClear}
          >
            Clear
          </button>
          <button
            class="ff-button is-small"
            type="button"
            id="ff-cancel-all"
            disabled={!jobs.some((j) => !isEnded(j.status))}
            onClick={onCancelAll}
          >
            Cancel all
          </button>
        </span>
      </div>
      <div class="ff-jobs" id="ff-jobs">
        {jobs.length === 0 ? (
          <div class="ff-empty">No jobs yet. Type a prompt and press Generate.</div>
        ) : (
          jobs.map((job) => <JobRow key={job.jobId} job={job} decodeMs={decodeMs} onCancel={onCancel} />)
        )}
      </div>
    </section>
  );
}
