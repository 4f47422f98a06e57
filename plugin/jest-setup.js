// The scaffolded setup first (.config/ is owned by `npx @grafana/create-plugin update`).
import './.config/jest-setup';
import { configure } from '@testing-library/react';

// Editors render Grafana's real components; on a busy CI machine the first
// render can take longer than testing-library's default one-second wait.
configure({ asyncUtilTimeout: 10000 });

// @grafana/ui sizes inputs by measuring text on a canvas, which jsdom cannot draw.
HTMLCanvasElement.prototype.getContext = () => ({
  font: '',
  measureText: (text) => ({ width: String(text).length * 7, actualBoundingBoxAscent: 10, actualBoundingBoxDescent: 3 }),
});

global.IntersectionObserver = class IntersectionObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
  takeRecords() {
    return [];
  }
};

global.ResizeObserver = class ResizeObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
};

// i18next, initialised by @grafana/i18n, prints an advertisement on every start.
const consoleInfo = console.info;
console.info = (...args) => {
  if (typeof args[0] === 'string' && args[0].includes('i18next is made possible')) {
    return;
  }
  consoleInfo(...args);
};

// Combobox renders only the options that fit its measured (virtualised) list;
// jsdom lays nothing out and measures every element as 0x0, which would render none.
Element.prototype.getBoundingClientRect = function getBoundingClientRect() {
  return { width: 400, height: 400, top: 0, left: 0, bottom: 400, right: 400, x: 0, y: 0, toJSON: () => ({}) };
};
Object.defineProperties(HTMLElement.prototype, {
  offsetWidth: { configurable: true, get: () => 400 },
  offsetHeight: { configurable: true, get: () => 400 },
  clientWidth: { configurable: true, get: () => 400 },
  clientHeight: { configurable: true, get: () => 400 },
});
