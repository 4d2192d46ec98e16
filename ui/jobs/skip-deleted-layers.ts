/**
 * A selection change is how deletions usually show up: the panel asks the host which of its open
 * jobs' layers are gone and skips those jobs, stopping the running one in the engine, so no time
 * is spent on an image with nowhere to go. (A layer deleted without a selection change is caught
 * when its image is placed.)
 */
import type { HostClient } from '../host-client.js';
import type { PanelStore } from '../panel-state.js';
import type { JobRunner } from './job-runner.js';
import { isEnded } from './job.js';

export async function skipJobsOfDeletedLayersAsync({
  store,
  host,
  runner,
}: {
  store: PanelStore;
  host: Pick<HostClient, 'checkNodes'>;
  runner: JobRunner;
}): Promise<void> {
  const open = store
    .get()
    .jobs.filter((j) => !isEnded(j.status) && j.status !== 'placing' && !j.stopping && j.destination.kind === 'existing');
  if (open.length === 0) return;
  const nodeIds = [...new Set(open.map((j) => (j.destination.kind === 'existing' ? j.destination.nodeId : '')))];
  const { missing } = await host.checkNodes({ nodeIds });
  for (const job of open) {
    if (job.destination.kind !== 'existing' || !missing.includes(job.destination.nodeId)) continue;
    await runner.stop(job.jobId, {
      status: 'skipped',
      code: 'deleted',
      reason: `The layer “${job.label}” was deleted, so its image was not made.`,
    });
  }
}
