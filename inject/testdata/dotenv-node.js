// The parse rules of node's dotenv package (lib/main.js, versions 15.0 to
// 17), rewritten as a test oracle: Debian ships no node-dotenv and the npm
// registry is out of reach. Its one regular expression runs on node's own
// engine, whose \s, $ and trim() (Unicode-aware) are what dotenv users get.
//
// Reads a file path per line on stdin, answers one JSON object per line.
'use strict'
const fs = require('fs')
const readline = require('readline')

// An entry: optional export, a key, = (or ": "), then a single-, double- or
// backtick-quoted value (\ before the quote does not close it), or an
// unquoted one up to # or the end of the line; then a comment.
const entry = new RegExp(
  String.raw`(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)` +
  String.raw`(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*` + '`' + String.raw`(?:\\` + '`' + String.raw`|[^` + '`' + String.raw`])*` + '`' +
  String.raw`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)`, 'mg')

function parse (text) {
  const out = {}
  const src = text.replace(/\r\n?/mg, '\n') // every line break becomes \n
  entry.lastIndex = 0
  for (let m; (m = entry.exec(src)) !== null;) {
    let value = (m[2] || '').trim()
    const quote = value[0]
    value = value.replace(/^(['"`])([\s\S]*)\1$/mg, '$2') // strip the quotes
    if (quote === '"') { // the only escapes it knows
      value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r')
    }
    out[m[1]] = value
  }
  return out
}

readline.createInterface({ input: process.stdin }).on('line', (path) => {
  process.stdout.write(JSON.stringify(parse(fs.readFileSync(path, 'utf8'))) + '\n')
})
