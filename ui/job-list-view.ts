/**
 * The queue's rows: label, status, progress bar, live preview (then the finished image) and a
 * cancel button per job. Rows are kept by job id, so a progress update touches only its row.
 */
import { drawRgba, h, setText } from './dom.js';
import { icon } from './icons.js';
import { isFinished, type JobView } from './job-queue.js';

/** The status column's words for a job. */
export function statusText(job: JobView): string {
  switch (job.status) {
    case 'queued':
      return 'Queued';
    case 'exporting':
      return 'Reading source…';
    case 'running':
      return job.step === 0 ? 'Starting…' : `Step ${job.step}/${job.total}`;
    case 'done':
      return job.elapsedMs !== undefined ? `Done · ${(job.elapsedMs / 1000).toFixed(1)} s` : 'Done';
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return 'Cancelled';
  }
}

export interface JobListView {
  render(jobs: readonly JobView[]): void;
}

export function createJobListView(list: HTMLElement, onCancel: (jobId: string) => void): JobListView {
  interface JobRow {
    row: HTMLElement;
    canvas: HTMLCanvasElement;
    thumb: HTMLImageElement;
    title: HTMLElement;
    status: HTMLElement;
    bar: HTMLElement;
    error: HTMLElement;
    cancel: HTMLButtonElement;
    drawnPreview?: unknown;
    resultUrl?: string;
  }
  const jobRows = new Map<string, JobRow>();

  function render(jobs: readonly JobView[]): void {
    const seen = new Set<string>();
    for (const job of jobs) {
      seen.add(job.jobId);
      let row = jobRows.get(job.jobId);
      if (!row) {
        const canvas = h('canvas', { width: 4, height: 4, 'aria-hidden': 'true' });
        const thumb = h('img', { class: 'ff-thumb', alt: '', hidden: true });
        const title = h('span');
        const status = h('span', { class: 'ff-job-status' });
        const bar = h('div');
        const error = h('div', { class: 'ff-job-error' });
        const cancel = h('button', { class: 'ff-icon-button', type: 'button', title: 'Cancel this job', 'aria-label': 'Cancel this job' }, icon('close'));
        cancel.addEventListener('click', () => onCancel(job.jobId));
        const element = h(
          'div',
          { class: 'ff-job', 'data-job-id': job.jobId },
          canvas,
          thumb,
          h('div', { class: 'ff-job-body' }, h('div', { class: 'ff-job-title' }, title, status), h('div', { class: 'ff-progress' }, bar), error),
          cancel,
        );
        row = { row: element, canvas, thumb, title, status, bar, error, cancel };
        jobRows.set(job.jobId, row);
      }
      setText(row.title, job.label);
      row.title.title = `${job.prompt} · seed ${job.seed} · ${job.width}×${job.height}${job.isVariation ? ' · image variation' : ''}`;
      setText(row.status, statusText(job));
      row.row.className = `ff-job is-${job.status}`;
      row.row.dataset.status = job.status;
      row.row.dataset.step = String(job.step);
      const fraction = job.status === 'done' ? 1 : job.total > 0 ? job.step / job.total : 0;
      row.bar.style.width = `${Math.round(fraction * 100)}%`;
      setText(row.error, job.error ? job.error.message : '');
      // Hidden but still laid out, so finished and running rows line up.
      row.cancel.style.visibility = isFinished(job.status) ? 'hidden' : 'visible';
      if (job.preview && row.drawnPreview !== job.preview) {
        drawRgba(row.canvas, job.preview);
        row.drawnPreview = job.preview;
      }
      // The finished image replaces the live preview.
      if (job.resultPng && !row.resultUrl) {
        row.resultUrl = URL.createObjectURL(new Blob([job.resultPng.slice()], { type: 'image/png' }));
        row.thumb.src = row.resultUrl;
        row.thumb.hidden = false;
        row.canvas.hidden = true;
      }
    }
    for (const [jobId, row] of jobRows) {
      if (!seen.has(jobId)) {
        if (row.resultUrl) URL.revokeObjectURL(row.resultUrl);
        row.row.remove();
        jobRows.delete(jobId);
      }
    }
    // Keep DOM order equal to queue order.
    const ordered = jobs.map((job) => jobRows.get(job.jobId)!.row);
    if (ordered.some((element, i) => list.children[i] !== element)) list.replaceChildren(...ordered);
    if (jobs.length === 0 && !list.querySelector('.ff-empty')) list.replaceChildren(h('div', { class: 'ff-empty' }, 'No jobs yet. Type a prompt and press Generate.'));
  }

  return { render };
}
