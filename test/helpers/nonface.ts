// Generated pictures with no face in them, for "zero faces accepted" checks: noise, gradients, shapes, text, texture.
import sharp from 'sharp';

function svg(w: number, h: number, body: string): Buffer {
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${body}</svg>`);
}

export async function nonFaceImages(): Promise<[string, Buffer][]> {
  let s = 42;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const out: [string, Buffer][] = [];
  const noise = Buffer.from(Array.from({ length: 480 * 480 * 3 }, () => Math.floor(rand() * 256)));
  out.push(['noise', await sharp(noise, { raw: { width: 480, height: 480, channels: 3 } }).png().toBuffer()]);
  // Smooth blobs: low-frequency noise, the kind of texture that fools weak detectors.
  const blobs = await sharp(noise, { raw: { width: 480, height: 480, channels: 3 } }).resize(12, 12).resize(480, 480, { kernel: 'cubic' }).jpeg().toBuffer();
  out.push(['blobs', blobs]);
  out.push(['gradient', await sharp(svg(640, 480, `<defs><linearGradient id="g"><stop offset="0" stop-color="#203060"/><stop offset="1" stop-color="#f0c080"/></linearGradient></defs><rect width="640" height="480" fill="url(#g)"/>`)).png().toBuffer()]);
  out.push(['radial', await sharp(svg(480, 480, `<defs><radialGradient id="g"><stop offset="0" stop-color="#f4c8a0"/><stop offset="1" stop-color="#402010"/></radialGradient></defs><rect width="480" height="480" fill="url(#g)"/>`)).jpeg().toBuffer()]);
  const shapes = Array.from({ length: 25 }, () => {
    const x = rand() * 600, y = rand() * 440, r = 10 + rand() * 60, c = `hsl(${Math.floor(rand() * 360)},60%,50%)`;
    return rand() < 0.5 ? `<circle cx="${x}" cy="${y}" r="${r}" fill="${c}"/>` : `<rect x="${x}" y="${y}" width="${r * 1.5}" height="${r}" fill="${c}"/>`;
  }).join('');
  out.push(['shapes', await sharp(svg(640, 480, `<rect width="640" height="480" fill="#eee"/>${shapes}`)).png().toBuffer()]);
  // A skin-toned oval: the colour and outline of a face, none of its features.
  out.push(['oval', await sharp(svg(480, 480, `<rect width="480" height="480" fill="#7a8a99"/><ellipse cx="240" cy="240" rx="130" ry="170" fill="#e0b090"/>`)).jpeg().toBuffer()]);
  out.push(['text', await sharp(svg(640, 480, `<rect width="640" height="480" fill="#fff"/>${Array.from({ length: 10 }, (_, i) => `<text x="20" y="${45 + i * 44}" font-size="32" font-family="sans-serif">Lorem ipsum dolor sit amet ${i}</text>`).join('')}`)).png().toBuffer()]);
  out.push(['checker', await sharp(svg(480, 480, Array.from({ length: 64 }, (_, i) => `<rect x="${(i % 8) * 60}" y="${Math.floor(i / 8) * 60}" width="60" height="60" fill="${(i + Math.floor(i / 8)) % 2 ? '#000' : '#fff'}"/>`).join(''))).png().toBuffer()]);
  out.push(['stripes', await sharp(svg(640, 480, Array.from({ length: 32 }, (_, i) => `<rect x="${i * 20}" y="0" width="10" height="480" fill="#345"/>`).join(''))).jpeg().toBuffer()]);
  out.push(['grey', await sharp({ create: { width: 400, height: 300, channels: 3, background: '#808080' } }).png().toBuffer()]);
  return out;
}
