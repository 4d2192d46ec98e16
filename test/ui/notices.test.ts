import { addNotice, dismissNotice } from '../../ui/notices.js';

test('the same plain notice twice in a row counts up instead of stacking; grouped ones always stack', () => {
  let notices = addNotice([], 'error', 'Describe the image first: the prompt is empty.');
  notices = addNotice(notices, 'error', 'Describe the image first: the prompt is empty.');
  expect(notices).toHaveLength(1);
  expect(notices[0].repeats).toBe(2);
  notices = addNotice(notices, 'info', '1 skipped: 1 text', ['“T”: why']);
  notices = addNotice(notices, 'info', '1 skipped: 1 text', ['“T”: why']);
  expect(notices).toHaveLength(3);
  expect(dismissNotice(notices, notices[0].id)).toHaveLength(2);
});
