// A PDF becomes a document's pages in the browser: PDF.js (npm pdfjs-dist,
// served from our origin with its worker; it evaluates no code, so the CSP
// keeps no 'unsafe-eval') renders each page to a PNG on white paper, its
// long edge at the size every model is sent. Fonts a PDF names without
// embedding (Helvetica, Times) come from PDF.js's own standard fonts, so a
// page looks the same whatever fonts the buyer's machine has; JBIG2 and
// JPEG 2000 scans are decoded by its JavaScript decoders (WebAssembly
// would need 'wasm-unsafe-eval'). The server never parses a PDF: it only
// ever sees the page images. Defines window.PdfPages.
import * as pdfjs from '/assets/vendor/pdf.min.mjs';

pdfjs.GlobalWorkerOptions.workerSrc = '/assets/vendor/pdf.worker.min.mjs';

// Why a PDF cannot be read, in a sentence its owner can act on.
function refusal(file, error) {
  if (error?.name === 'PasswordException') {
    return `${file.name}: this PDF is protected by a password. Save a copy without the password and add that.`;
  }
  return `${file.name}: this file could not be read as a PDF; it may be damaged.`;
}

// `file`'s pages as [{ blob, width, height }] (PNG, the long edge `side`
// px), or an Error with the sentence to show; nothing is uploaded here.
// `maxPages`: the most one document may have.
async function render(file, { side, maxPages }) {
  const loading = pdfjs.getDocument({
    data: new Uint8Array(await file.arrayBuffer()),
    enableXfa: false,
    useSystemFonts: false,
    standardFontDataUrl: '/assets/vendor/pdfjs/standard_fonts/',
    useWasm: false,
    wasmUrl: '/assets/vendor/pdfjs/wasm/',
  });
  let pdf;
  try {
    pdf = await loading.promise;
  } catch (error) {
    await loading.destroy();
    throw new Error(refusal(file, error));
  }
  try {
    if (pdf.numPages < 1) throw new Error(`${file.name}: this PDF has no pages.`);
    if (pdf.numPages > maxPages) {
      throw new Error(`${file.name}: this PDF has ${pdf.numPages} pages; a document may have at most ${maxPages}. Split it and add the parts as documents.`);
    }
    const pages = [];
    for (let n = 1; n <= pdf.numPages; n += 1) {
      const page = await pdf.getPage(n);
      const unscaled = page.getViewport({ scale: 1 });
      const viewport = page.getViewport({ scale: side / Math.max(unscaled.width, unscaled.height) });
      const canvas = document.createElement('canvas');
      canvas.width = Math.max(1, Math.round(viewport.width));
      canvas.height = Math.max(1, Math.round(viewport.height));
      await page.render({ canvas, viewport, background: '#ffffff' }).promise;
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
      if (!blob) throw new Error(`${file.name}: page ${n} could not be drawn.`);
      pages.push({ blob, width: canvas.width, height: canvas.height });
      page.cleanup();
    }
    return pages;
  } catch (error) {
    throw error instanceof Error && error.message.startsWith(`${file.name}:`) ? error : new Error(refusal(file, error));
  } finally {
    await loading.destroy();
  }
}

window.PdfPages = { render };
