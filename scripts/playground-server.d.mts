export interface PlaygroundServer {
  url: string;
  port: number;
  close(): Promise<void>;
}
export function startPlaygroundServer(options?: {
  port?: number;
  host?: string;
  distDir?: string;
  mounts?: Record<string, string>;
  quiet?: boolean;
}): Promise<PlaygroundServer>;
