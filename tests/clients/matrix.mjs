#!/usr/bin/env node
// The "Tested clients" (README) and "Conformance situations" (docs/conformance.md) tables, from
// what the client suites just wrote.
//
// Each suite writes one JSON file per passing scenario and scheme:
//   <dir>/<suite>/<scheme>-<n>.json   {"client", "version", "scheme", "scenario", "name", "passed", "note"}
//   <dir>/<suite>/conformance-<name>.json  {"client", "version", "scenario", "passed", "problems", "provider"?}
// where <dir> is $CLIENT_MATRIX_DIR or <repo>/target/client-matrix. Each suite declares below
// which scenarios it covers; a covered scenario without a file, or with one that does not say
// passed, counts as not passing, and the scenarios a suite does not cover are listed as such.
//
// The conformance table has a row per situation the binary stages (`mcp-oauth-sim scenario
// conformance list --json`; $MCP_OAUTH_SIM_BIN or target/debug/mcp-oauth-sim) and a column per
// suite that covers them; a situation without a result file says "not run". A result whose
// `provider` is "application" was earned with a provider the application wrote on the SDK's
// lowest-level hook, the SDK having none for that flow: its cell says so. `"unsupported": true`
// (the client cannot be driven there at all), or a `note` starting "unsupported", reads
// "unsupported"; a pass with a `note` is a pass of the checks after which the application
// stopped (the note says why, and docs/conformance.md explains it).
//
//   node tests/clients/matrix.mjs                    print the tables
//   node tests/clients/matrix.mjs --write README.md docs/conformance.md  replace the tables
//                                                    between their markers, wherever each is
//   node tests/clients/matrix.mjs --check README.md docs/conformance.md  exit 1 if one differs
//
// No dependencies: runs with any Node 18+.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIR = process.env.CLIENT_MATRIX_DIR || join(REPO, 'target/client-matrix');
const BINARY = process.env.MCP_OAUTH_SIM_BIN || join(REPO, 'target/debug/mcp-oauth-sim');
const SCHEMES = ['http', 'https'];

// Every client scenario, numbered as docs/clients.md lists them.
const SCENARIOS = new Map([
  [1, 'first-time consent'],
  [2, 'refresh on expiry'],
  [3, 'revoked token'],
  [4, 'rotation'],
  [5, 'dead refresh token'],
  [6, 'consent denied'],
  [7, 'insufficient scope'],
  [8, 'stored credentials'],
  [9, 'AS down during refresh'],
  [10, 'rate-limited token endpoint'],
  [11, 'step-up'],
  [12, 'parallel refresh'],
]);
const ALL = [...SCENARIOS.keys()];
const upTo = (last) => ALL.filter((n) => n <= last);

// The suites the table always shows, even when one produced nothing: the scenarios each covers
// (the denominator of its counts) and where its pinned version is written down.
const SUITES = [
  { key: 'rmcp', client: 'rmcp', covers: upTo(11), conformance: true, version: () => lockedCrateVersion('rmcp') },
  {
    key: 'typescript',
    client: '@modelcontextprotocol/sdk (TypeScript)',
    covers: upTo(12),
    conformance: true,
    version: () => pinnedVersion('typescript', '@modelcontextprotocol/sdk'),
  },
  {
    key: 'typescript-v2',
    client: '@modelcontextprotocol/client (TypeScript v2)',
    covers: upTo(12),
    conformance: true,
    version: () => pinnedVersion('typescript-v2', '@modelcontextprotocol/client'),
  },
  {
    key: 'inspector',
    client: '@modelcontextprotocol/inspector (CLI)',
    // 12 needs two CLI processes refreshing one store at once; their outcome is not repeatable.
    covers: upTo(11),
    conformance: false,
    version: () => pinnedVersion('inspector', '@modelcontextprotocol/inspector'),
  },
  {
    key: 'mcp-remote',
    client: 'mcp-remote',
    // 11 and 12 end in re-authorizations whose outcome was not pinned down (docs/clients.md).
    covers: upTo(10),
    conformance: false,
    version: () => pinnedVersion('mcp-remote', 'mcp-remote'),
  },
];

/** The exact version tests/clients/<suite>/package.json pins `name` at. */
function pinnedVersion(suite, name) {
  return readJson(join(REPO, 'tests/clients', suite, 'package.json'))?.dependencies?.[name];
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function lockedCrateVersion(name) {
  try {
    const lock = readFileSync(join(REPO, 'Cargo.lock'), 'utf8');
    const versions = [...lock.matchAll(/\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"/g)]
      .filter((match) => match[1] === name)
      .map((match) => match[2]);
    return versions.length === 1 ? versions[0] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every suite's results: { key, client, version, covers, outcome: Map("http-1" →
 * 'passed'|'failed'|'missing') }. A suite found only as a directory covers the scenarios it has
 * files for.
 */
function collect() {
  const keys = new Set(SUITES.map((suite) => suite.key));
  if (existsSync(DIR)) {
    for (const entry of readdirSync(DIR, { withFileTypes: true })) {
      if (entry.isDirectory()) keys.add(entry.name);
    }
  }
  return [...keys].map((key) => {
    const known = SUITES.find((suite) => suite.key === key);
    const clients = new Set();
    const versions = new Set();
    const outcome = new Map();
    const covers = known?.covers ?? ALL.filter((n) => SCHEMES.some((scheme) => existsSync(join(DIR, key, `${scheme}-${n}.json`))));
    for (const scheme of SCHEMES) {
      for (const number of covers) {
        const path = join(DIR, key, `${scheme}-${number}.json`);
        if (!existsSync(path)) {
          outcome.set(`${scheme}-${number}`, 'missing');
          continue;
        }
        const result = readJson(path);
        const passed = result?.passed === true && result.scheme === scheme && result.scenario === number;
        outcome.set(`${scheme}-${number}`, passed ? 'passed' : 'failed');
        if (result?.client) clients.add(result.client);
        if (result?.version) versions.add(result.version);
      }
    }
    return {
      key,
      client: [...clients].sort().join(', ') || known?.client || key,
      version: [...versions].sort().join(', ') || known?.version() || '—',
      covers,
      outcome,
    };
  });
}

/** [1, 2, 3, 5] → "1–3, 5" */
function ranges(numbers) {
  const runs = [];
  for (const n of numbers) {
    const last = runs.at(-1);
    if (last && n === last[1] + 1) last[1] = n;
    else runs.push([n, n]);
  }
  return runs.map(([from, to]) => (from === to ? `${from}` : `${from}–${to}`)).join(', ');
}

function render(suites) {
  const lines = [
    '| Client | Version | HTTP | HTTPS | Not passing | Not covered |',
    '|---|---|---|---|---|---|',
  ];
  for (const { client, version, covers, outcome } of suites) {
    const passing = (scheme) => covers.filter((n) => outcome.get(`${scheme}-${n}`) === 'passed').length;
    const notPassing = [];
    for (const scheme of SCHEMES) {
      for (const state of ['failed', 'missing']) {
        const numbers = covers.filter((n) => outcome.get(`${scheme}-${n}`) === state);
        if (numbers.length > 0) notPassing.push(`${scheme} ${ranges(numbers)} ${state}`);
      }
    }
    const notCovered = ALL.filter((n) => !covers.includes(n)).map((n) => `${n} ${SCENARIOS.get(n)}`);
    // `@modelcontextprotocol/sdk (TypeScript)` → `` `@modelcontextprotocol/sdk` (TypeScript) ``
    const [name, ...qualifier] = client.split(' ');
    const cells = [
      [`\`${name}\``, ...qualifier].join(' '),
      version,
      `${passing('http')}/${covers.length}`,
      `${passing('https')}/${covers.length}`,
      notPassing.join('; ') || '—',
      notCovered.join(', ') || '—',
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The situations the rig stages, in its order: `{ scenario, revision }`. */
function situations() {
  const listed = spawnSync(BINARY, ['scenario', 'conformance', 'list', '--json'], { encoding: 'utf8', timeout: 20_000 });
  if (listed.status !== 0) {
    throw new Error(`${BINARY} scenario conformance list failed (${listed.status ?? listed.error}): ${listed.stderr}`);
  }
  return JSON.parse(listed.stdout);
}

/** The conformance table: a row per situation, a column per suite covering them. */
function renderConformance(suites) {
  const covering = SUITES.filter((suite) => suite.conformance);
  const columns = covering.map((suite) => {
    const found = suites.find((each) => each.key === suite.key);
    return `${(found?.client ?? suite.client).split(' ')[0]} ${found?.version ?? suite.version() ?? ''}`.trim();
  });
  const lines = [
    `| Scenario | Revision | ${columns.map((column) => `\`${column}\``).join(' | ')} |`,
    `|---|---|${covering.map(() => '---|').join('')}`,
  ];
  for (const { scenario, revision } of situations()) {
    const name = scenario.replace(/^auth\//, '');
    const cells = covering.map((suite) => {
      const result = readJson(join(DIR, suite.key, `conformance-${name}.json`));
      if (!result || result.scenario !== scenario) return 'not run';
      const ids = [...new Set((result.problems ?? []).map((problem) => problem.split(':')[0]))];
      const failed = ids.map((id) => `\`${id}\``).join(', ');
      // A client with no support for the flow at all: what the suite would grade it, said so.
      if (result.unsupported === true || /^unsupported\b/.test(result.note ?? '')) {
        return ids.length ? `unsupported (fails ${failed})` : 'unsupported';
      }
      const own = result.provider === 'application' ? " (application's own provider)" : '';
      // The suite's checks pass, yet the application could not go on (a note says why).
      if (result.passed === true && result.note) return `passes the checks${own}; the application stops`;
      if (result.passed === true) return `passes${own}`;
      return `fails${own}: ${failed}`;
    });
    lines.push(`| \`${scenario}\` | ${revision} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The tables, each between its markers in README.md or a docs page. */
const BLOCKS = [
  { name: 'tested-clients', render: (suites) => render(suites) },
  { name: 'conformance', render: (suites) => renderConformance(suites) },
];

/** A file split around a block's markers, or an error naming what is missing. */
function split(text, path, name) {
  const START = `<!-- ${name}:start -->`;
  const END = `<!-- ${name}:end -->`;
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) {
    throw new Error(`${path} has no ${START} … ${END} block`);
  }
  return {
    before: text.slice(0, start + START.length),
    table: text.slice(start + START.length, end).trim(),
    after: text.slice(end),
  };
}

function main(args) {
  const suites = collect();
  const tables = BLOCKS.map((block) => ({ ...block, table: block.render(suites) }));
  const [mode, ...paths] = args;
  if (mode === undefined) {
    console.log(tables.map((block) => block.table).join('\n\n'));
    return 0;
  }
  if ((mode !== '--write' && mode !== '--check') || paths.length === 0) {
    console.error('usage: node tests/clients/matrix.mjs [--write|--check FILE...] (each table is in one of the files)');
    return 2;
  }
  const texts = new Map(paths.map((path) => [path, readFileSync(path, 'utf8')]));
  let status = 0;
  for (const { name, table } of tables) {
    // Each table stands between its markers in exactly one of the files.
    const holding = paths.filter((path) => texts.get(path).includes(`<!-- ${name}:start -->`));
    if (holding.length !== 1) {
      throw new Error(`the ${name} table must be in exactly one of ${paths.join(', ')}, not ${holding.length}`);
    }
    const [path] = holding;
    const parts = split(texts.get(path), path, name);
    if (mode === '--write') {
      texts.set(path, `${parts.before}\n${table}\n${parts.after}`);
      console.log(`wrote the ${name} table into ${path}`);
      continue;
    }
    if (parts.table === table) {
      console.log(`${path}: the ${name} table matches the results in ${DIR}`);
      continue;
    }
    const written = parts.table.split('\n').filter((line) => line !== '');
    const fresh = table.split('\n');
    console.error(`error: ${path}'s ${name} table differs from the results in ${DIR}:`);
    for (const line of written) if (!fresh.includes(line)) console.error(`- ${line}`);
    for (const line of fresh) if (!written.includes(line)) console.error(`+ ${line}`);
    console.error('(- the file, + the suites just run; a suite that failed or did not run shows as not passing.');
    console.error(` If the change is intended: node tests/clients/matrix.mjs --write ${paths.join(' ')})`);
    status = 1;
  }
  if (mode === '--write') for (const [path, text] of texts) writeFileSync(path, text);
  return status;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(`error: ${error.message}`);
  process.exitCode = 1;
}
