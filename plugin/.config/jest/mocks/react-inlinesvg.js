/*
 * @grafana/ui draws icons with react-inlinesvg, which fetches each SVG over HTTP
 * and re-renders when it arrives. Grafana's own tests swap it for a plain <svg>,
 * so no test depends on icon files nor gets a state update after it ended.
 */
const React = require('react');

function InlineSVG({ src, title, className }) {
  return React.createElement('svg', { 'data-src': src, className, 'aria-label': title });
}

module.exports = InlineSVG;
module.exports.default = InlineSVG;
module.exports.__esModule = true;
