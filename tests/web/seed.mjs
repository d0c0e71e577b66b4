// Reading the seed README's code blocks and the marked example regions of the test pages
// (see seed-verbatim.test.mjs).

/** The README's code blocks: `[{ heading, code }]`, heading = the nearest heading above. */
export function readmeBlocks(text) {
  const blocks = [];
  let heading = '';
  let code = null;
  for (const line of text.split('\n')) {
    if (code !== null) {
      if (line.startsWith('```')) {
        blocks.push({ heading, code: code.join('\n') });
        code = null;
      } else {
        code.push(line);
      }
    } else if (line.startsWith('```')) {
      code = [];
    } else if (/^#{1,6} /.test(line)) {
      heading = line
        .replace(/^#+ /, '')
        .replace(/[^\x20-\x7e]/g, '')
        .trim();
    }
  }
  return blocks;
}

/** The marked regions of one page: `[{ heading, code, line }]`. */
export function pageRegions(text) {
  const regions = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i].match(/^\/\/ >>> seed: (.+)$/);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l === '// <<< seed');
    if (end < 0) throw new Error(`line ${i + 1}: "// >>> seed" without "// <<< seed"`);
    regions.push({ heading: open[1], code: lines.slice(i + 1, end).join('\n'), line: i + 1 });
    i = end;
  }
  return regions;
}
