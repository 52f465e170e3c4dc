export {};
export {
  analyzeSql,
  type ClassifyOptions,
  classifySql,
  createSqlClassifier,
  DEFAULT_WRITE_FUNCTIONS,
  type SqlAnalysis,
  type SqlClassifier,
  type SqlClassifierOptions,
  type SqlKind,
} from './classify-sql.js';
