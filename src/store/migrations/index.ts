import * as m001 from './001_foundation.js';
import * as m002 from './002_episodic.js';
import * as m003 from './003_collections.js';
import * as m004 from './004_documents.js';
import * as m005 from './005_document_files.js';
import * as m006 from './006_summaries.js';
import * as m007 from './007_memories.js';
import * as m008 from './008_cache.js';
import * as m009 from './009_usage.js';
import * as m010 from './010_prompts.js';
import * as m011 from './011_limits.js';
import * as m012 from './012_quotas.js';
import * as m013 from './013_request_captures.js';
import * as m014 from './014_admin_keys.js';
import * as m015 from './015_teams.js';
import * as m016 from './016_chunk_lexemes.js';

export interface Migration {
  version: number;
  name: string;
  up: string;
}

/** Applied in order, each once, in its own transaction (store/migrate.ts). Never edit an applied one. */
export const migrations: readonly Migration[] = [
  { version: 1, name: 'foundation', up: m001.up },
  { version: 2, name: 'episodic', up: m002.up },
  { version: 3, name: 'collections', up: m003.up },
  { version: 4, name: 'documents', up: m004.up },
  { version: 5, name: 'document_files', up: m005.up },
  { version: 6, name: 'summaries', up: m006.up },
  { version: 7, name: 'memories', up: m007.up },
  { version: 8, name: 'cache', up: m008.up },
  { version: 9, name: 'usage', up: m009.up },
  { version: 10, name: 'prompts', up: m010.up },
  { version: 11, name: 'limits', up: m011.up },
  { version: 12, name: 'quotas', up: m012.up },
  { version: 13, name: 'request_captures', up: m013.up },
  { version: 14, name: 'admin_keys', up: m014.up },
  { version: 15, name: 'teams', up: m015.up },
  { version: 16, name: 'chunk_lexemes', up: m016.up },
];
