/**
 * common/engine-types.ts names `Blob` in ModelSource (a UI/worker concern). The main thread only
 * imports types from it and never touches a Blob; this empty declaration lets it compile without
 * the DOM library. It merges harmlessly with the DOM's Blob where that library is loaded.
 */
interface Blob {}
