/** Relative command-line paths resolve against the user's directory, which `npm run` leaves in INIT_CWD. */
import { describeCliError, UsageError } from '../../worker/cli/cli-errors.js';
import { displayPath, resolveUserPath, userDirectory } from '../../worker/cli/user-paths.js';

const repo = '/repo';
const npmRun = { INIT_CWD: '/home/me/designs', npm_lifecycle_script: 'tsx worker/cli/generate.ts' };

test('under npm run of a worker/cli tool, paths resolve against INIT_CWD', () => {
  expect(userDirectory(npmRun, repo)).toBe('/home/me/designs');
  expect(resolveUserPath('out.png', npmRun, repo)).toBe('/home/me/designs/out.png');
  expect(resolveUserPath('../x.png', npmRun, repo)).toBe('/home/me/x.png');
  expect(resolveUserPath('/abs/y.png', npmRun, repo)).toBe('/abs/y.png');
});

test('an INIT_CWD inherited from another npm script (npm test) is ignored', () => {
  const underNpmTest = { INIT_CWD: '/repo', npm_lifecycle_script: 'npm run typecheck && jest' };
  expect(userDirectory(underNpmTest, '/tmp/work')).toBe('/tmp/work');
  expect(userDirectory({}, '/tmp/work')).toBe('/tmp/work');
});

test('paths are shown relative to the user when inside their directory', () => {
  expect(displayPath('/home/me/designs/out/a.png', npmRun, repo)).toBe('out/a.png');
  expect(displayPath('/home/me/designs', npmRun, repo)).toBe('.');
  expect(displayPath('/elsewhere/a.png', npmRun, repo)).toBe('/elsewhere/a.png');
});

test('system errors become a sentence naming the path; engine codes are dropped', () => {
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/tmp/x.png'"), { code: 'ENOENT', path: '/tmp/x.png' });
  expect(describeCliError(enoent)).toBe('/tmp/x.png: no such file or folder');
  expect(describeCliError(new Error('[model-corrupt] transformer/model.onnx is not a readable ONNX model'))).toBe(
    'transformer/model.onnx is not a readable ONNX model',
  );
  expect(describeCliError(new UsageError('--steps needs a value'))).toBe('--steps needs a value');
});
