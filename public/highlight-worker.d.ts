// highlight-worker.js is plain JavaScript served as is; imported only for its embedded path.
declare const path: string
export default path
