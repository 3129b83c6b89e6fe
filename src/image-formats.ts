// The one list of image formats: what curation decodes (by sniffed container, retrieval/decode.ts), what the web
// accepts as a query upload, the extension a stored copy gets, which files a folder listing and a dataset reader take
// for images, and which links a crawler follows as images. Formats sharp's prebuilt libvips decodes.

/** Decodable containers by sniffed name: the extension a stored copy gets, and the file extensions that name them. */
export const IMAGE_FORMATS = {
  jpeg: { stored: 'jpg', extensions: ['.jpg', '.jpeg', '.jfif'] },
  png: { stored: 'png', extensions: ['.png'] },
  webp: { stored: 'webp', extensions: ['.webp'] },
  gif: { stored: 'gif', extensions: ['.gif'] },
  avif: { stored: 'avif', extensions: ['.avif'] },
  heif: { stored: 'heic', extensions: ['.heic', '.heif'] },
  tiff: { stored: 'tiff', extensions: ['.tif', '.tiff'] },
} as const satisfies Record<string, { stored: string; extensions: readonly string[] }>;

export type ImageFormat = keyof typeof IMAGE_FORMATS;

/** Recognised by their first bytes or extension but not decoded (svg is a document; bmp is not in prebuilt libvips): `unsupported_format`. */
export const REFUSED_FORMATS = { bmp: ['.bmp'], svg: ['.svg'] } as const;

export function isDecodable(format: string | null | undefined): format is ImageFormat {
  return !!format && Object.hasOwn(IMAGE_FORMATS, format);
}

/** The extension (no dot) of a stored copy of an image in `format`; `bin` for anything else. */
export function storedExtension(format: string): string {
  return isDecodable(format) ? IMAGE_FORMATS[format].stored : 'bin';
}

/** Lower-case file extensions (with the dot) of decodable images, the common ones first. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.values(IMAGE_FORMATS).flatMap((f) => f.extensions);

/** Whether a file name's extension (any case) is a decodable image's. */
export function hasImageExtension(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot >= 0 && IMAGE_EXTENSIONS.includes(name.slice(dot).toLowerCase());
}

/**
 * A URL path a crawler takes for an image link, not a page: decodable extensions and bmp (fetched and counted as
 * `unsupported_format`). svg links are neither: a document, skipped as a page by the crawler.
 */
export const IMAGE_LINK_EXT = new RegExp(`\\.(${[...IMAGE_EXTENSIONS, ...REFUSED_FORMATS.bmp].map((e) => e.slice(1)).join('|')})$`, 'i');
