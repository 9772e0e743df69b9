// Reads a JSON array of {"text": string, "smart": bool} on stdin and writes, for each, what Twilio's
// segment calculator says of it. The Go test in channels/sms compares its own counts with this output.
'use strict';
const { SegmentedMessage } = require('sms-segments-calculator');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const out = JSON.parse(input).map(({ text, smart }) => {
    const m = new SegmentedMessage(text, 'auto', Boolean(smart));
    return {
      encoding: m.getEncodingName(),
      segments: m.segmentsCount,
      characters: m.numberOfCharacters,
      non_gsm: m.getNonGsmCharacters(),
      // The graphemes of each segment, without the user data header: where the message is cut.
      split: m.segments.map((s) => Array.from(s).filter((c) => !c.isUserDataHeader).map((c) => c.raw)),
    };
  });
  process.stdout.write(JSON.stringify(out));
});
