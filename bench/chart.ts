/**
 * The chart of the HTTP benchmark, bench/results/latest.svg: grouped bars of requests per
 * second, one group per route and client mode, one bar per scenario. Hand-written SVG, so the
 * benchmark needs no charting dependency.
 */
import { LABELS, clientsLabel, machine, ordered, type Row, type RunInfo } from './report.js'
import type { Scenario } from './support.js'

const COLORS: Record<Scenario, string> = {
  bare: '#9e9e9e',
  'bare-middleware': '#bdbdbd',
  'session-memory': '#9ecae1',
  'session-redis': '#3182bd',
  'raw-get': '#a1d99b',
  'raw-get-set': '#31a354',
  'stash-memory': '#fdae6b',
  'stash-memory-traced': '#fdd0a2',
  'stash-redis': '#e6550d',
  'stash-redis-cache': '#fd8d3c',
  'stash-redis-cache-2p': '#d94801',
  'payload-session-redis': '#756bb1',
  'payload-stash-redis': '#a50f15',
}

const WIDTH = 1000
const HEIGHT = 540
const LEFT = 70
const RIGHT = 20
const TOP = 78
const BOTTOM = 120

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

const text = (x: number, y: number, content: string, attributes = ''): string =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attributes}>${escape(content)}</text>`

/** A round step for about five axis ticks up to `max`. */
function tickStep(max: number): number {
  const rough = max / 5
  const power = 10 ** Math.floor(Math.log10(rough))
  return ([1, 2, 2.5, 5, 10].map((factor) => factor * power).find((step) => step >= rough) ?? 10 * power) || 1
}

const short = (value: number): string => (value >= 1000 ? `${(value / 1000).toFixed(1)}k` : String(Math.round(value)))

/** The whole SVG document for `rows`. */
export function renderSvg(info: RunInfo, rows: Row[]): string {
  const sorted = ordered(rows)
  const groups = [...new Set(sorted.map((row) => `${row.route}|${row.clients}`))]
  const scenarios = (Object.keys(LABELS) as Scenario[]).filter((scenario) => rows.some((row) => row.scenario === scenario))
  const step = tickStep(Math.max(1, ...rows.map((row) => row.requestsPerSecond)))
  const top = step * Math.ceil(Math.max(1, ...rows.map((row) => row.requestsPerSecond)) / step)
  const plotWidth = WIDTH - LEFT - RIGHT
  const plotHeight = HEIGHT - TOP - BOTTOM
  const y = (value: number): number => TOP + plotHeight - (value / top) * plotHeight
  const groupWidth = plotWidth / Math.max(1, groups.length)
  const barWidth = Math.min(40, (groupWidth - 24) / Math.max(1, scenarios.length))
  const font = 'font-family="Helvetica, Arial, sans-serif"'
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ${font}>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    text(LEFT, 28, 'Requests per second (higher is better)', 'font-size="18" font-weight="bold" fill="#222"'),
    text(
      LEFT,
      48,
      `median of ${info.settings.rounds} × ${info.settings.duration} s rounds, ${info.settings.connections} connections, autocannon on loopback; ${info.date.slice(0, 10)}`,
      'font-size="12" fill="#555"',
    ),
    text(LEFT, 64, machine(info), 'font-size="12" fill="#555"'),
  ]
  for (let tick = 0; tick <= top; tick += step) {
    out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#e5e5e5"/>`)
    out.push(text(LEFT - 8, y(tick) + 4, short(tick), 'font-size="11" fill="#555" text-anchor="end"'))
  }
  groups.forEach((group, index) => {
    const [route, clients] = group.split('|') as [Row['route'], Row['clients']]
    const start = LEFT + index * groupWidth + (groupWidth - barWidth * scenarios.length) / 2
    scenarios.forEach((scenario, position) => {
      const row = sorted.find((r) => r.scenario === scenario && r.route === route && r.clients === clients)
      if (row === undefined) return
      const x = start + position * barWidth
      const barTop = y(row.requestsPerSecond)
      out.push(
        `<rect x="${(x + 1).toFixed(1)}" y="${barTop.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(y(0) - barTop).toFixed(1)}" fill="${COLORS[scenario]}"><title>${escape(`${LABELS[scenario]}, /${route}, ${clientsLabel(clients, info)}: ${Math.round(row.requestsPerSecond)} req/s`)}</title></rect>`,
      )
      out.push(text(x + barWidth / 2, barTop - 4, short(row.requestsPerSecond), 'font-size="9" fill="#333" text-anchor="middle"'))
    })
    const middle = LEFT + (index + 0.5) * groupWidth
    out.push(
      text(middle, y(0) + 20, `GET /${route}, ${clientsLabel(clients, info)}`, 'font-size="13" fill="#222" text-anchor="middle"'),
    )
  })
  out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(0)}" y2="${y(0)}" stroke="#888"/>`)
  const perLine = Math.ceil(scenarios.length / 3)
  scenarios.forEach((scenario, index) => {
    const x = LEFT + (index % perLine) * (plotWidth / perLine)
    const legendY = HEIGHT - BOTTOM + 50 + Math.floor(index / perLine) * 22
    out.push(`<rect x="${x}" y="${legendY - 11}" width="14" height="14" fill="${COLORS[scenario]}"/>`)
    out.push(text(x + 20, legendY, LABELS[scenario], 'font-size="12" fill="#222"'))
  })
  out.push('</svg>', '')
  return out.join('\n')
}
