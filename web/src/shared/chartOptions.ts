// Pieces of ECharts options the console's and the store page's charts share. The charts draw
// numbers; their tooltips show the API's own strings, formatted.

/**
 * An axis tooltip: the lines for the row under the pointer (`rows[dataIndex]`), one per line,
 * nothing where there is no row. `extra` adds options (axisPointer, confine …).
 */
export function axisTooltip<D>(rows: readonly D[], lines: (d: D) => string[], extra: Record<string, unknown> = {}) {
  return {
    trigger: 'axis',
    ...extra,
    formatter: (params: unknown) => {
      const p = (params as { dataIndex: number }[])[0]
      const d = p ? rows[p.dataIndex] : undefined
      return d === undefined ? '' : lines(d).join('<br/>')
    },
  }
}
