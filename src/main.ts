/**
 * Flowfill's Figma main thread (bundled to dist/code.js, target ES2017: the sandbox has no DOM,
 * no fetch of ours and older syntax support). `__html__` is the panel, inlined by Figma from
 * manifest.json's `ui`.
 */
import { startPlugin } from './plugin.js';

startPlugin(figma, __html__);
