// One ECharts instance bound to an element: created when the component mounts, drawn from
// `option()` then and whenever `sources` change (a null option leaves the chart as it is),
// resized with the window and disposed when the component goes. The charts import their own
// chart types and components with `echarts.use`, so each page's chunk carries only what it draws.
import { onBeforeUnmount, onMounted, shallowRef, watch, type Ref, type WatchSource } from 'vue'
import { init, type ECharts, type EChartsCoreOption } from 'echarts/core'

export function useChart(
  el: Ref<HTMLElement | null>,
  option: () => EChartsCoreOption | null,
  sources: WatchSource | WatchSource[],
) {
  const chart = shallowRef<ECharts | null>(null)
  const draw = () => {
    const o = option()
    if (chart.value && o) chart.value.setOption(o, true)
  }
  const resize = () => chart.value?.resize()
  onMounted(() => {
    if (!el.value) return
    chart.value = init(el.value)
    draw()
    window.addEventListener('resize', resize)
  })
  onBeforeUnmount(() => {
    window.removeEventListener('resize', resize)
    chart.value?.dispose()
    chart.value = null
  })
  watch(sources, draw)
  return chart
}
