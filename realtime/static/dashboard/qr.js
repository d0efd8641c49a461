// A QR code as inline SVG, for links a phone should open (a key proof's pubkyauth:// link).
// The encoding is the vendored qrcode-generator (vendor/qrcode-generator, MIT, pinned); the
// drawing is ours: one <path> of dark modules, crisp at any size, no canvas, no images.

import qrcode from "./vendor/qrcode-generator/qrcode.js";
import { svg } from "./dom.js";

const QUIET_ZONE = 4; // modules of white around the code, as the standard asks

/** The dark modules of ``text`` as a square matrix of booleans (error correction M). */
export function qrMatrix(text) {
  const code = qrcode(0, "M"); // 0: the smallest version that holds the text
  code.addData(String(text), "Byte");
  code.make();
  const size = code.getModuleCount();
  const rows = [];
  for (let row = 0; row < size; row += 1) {
    const cells = [];
    for (let col = 0; col < size; col += 1) cells.push(code.isDark(row, col));
    rows.push(cells);
  }
  return rows;
}

/** An SVG path covering the dark modules, offset by the quiet zone (runs merged per row). */
export function qrPath(matrix) {
  const parts = [];
  matrix.forEach((cells, row) => {
    let start = -1;
    for (let col = 0; col <= cells.length; col += 1) {
      const dark = col < cells.length && cells[col];
      if (dark && start < 0) start = col;
      if (!dark && start >= 0) {
        parts.push(`M${start + QUIET_ZONE} ${row + QUIET_ZONE}h${col - start}v1h${start - col}z`);
        start = -1;
      }
    }
  });
  return parts.join("");
}

/** ``<svg role="img">`` showing ``text`` as a QR code, labelled with ``label``. */
export function qrSvg(text, label = "QR code") {
  const matrix = qrMatrix(text);
  const size = matrix.length + 2 * QUIET_ZONE;
  return svg(
    "svg",
    {
      class: "qr",
      viewBox: `0 0 ${size} ${size}`,
      role: "img",
      "aria-label": label,
      "data-modules": matrix.length,
      "shape-rendering": "crispEdges",
    },
    svg("title", {}, label),
    svg("rect", { class: "qr-light", width: size, height: size }),
    svg("path", { class: "qr-dark", d: qrPath(matrix) }),
  );
}
