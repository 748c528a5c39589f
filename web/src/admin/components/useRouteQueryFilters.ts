import { computed, ref, shallowRef, watch, type ComputedRef, type Ref } from 'vue'
import { useRoute, useRouter, type LocationQuery, type LocationQueryRaw, type RouteLocationNormalizedLoaded } from 'vue-router'
import { useAsync } from './useAsync'

export interface QueryFilterOptions<F> {
  /** The filters in a route query (anything unknown or malformed dropped). */
  parse: (query: LocationQuery) => F
  /** The filters as a route query. */
  toQuery: (f: F) => LocationQueryRaw
  /** Whether the route is this page's own (the query of another page is not ours to follow). */
  active: (route: RouteLocationNormalizedLoaded) => boolean
  /** The route query that resets every filter. */
  resetQuery?: LocationQueryRaw
  /** Values every change of filters starts from (a list goes back to its first page). */
  fresh?: Partial<F>
  /** Called with the filters each time this page's query changes (and at once): fill the form, load. */
  onQuery: (f: F) => void
}

/**
 * Filters kept in the route query, so a reload, a shared link or "back" shows the same list:
 * `go` applies a change, `reset` clears them all.
 */
export function useRouteQueryFilters<F extends object>(opts: QueryFilterOptions<F>) {
  const route = useRoute()
  const router = useRouter()
  const filters: ComputedRef<F> = computed(() => opts.parse(route.query))
  watch(
    () => route.query,
    () => {
      if (opts.active(route)) opts.onQuery(filters.value)
    },
    { immediate: true },
  )
  function go(change: Partial<F>) {
    void router.replace({ query: opts.toQuery({ ...filters.value, ...opts.fresh, ...change }) })
  }
  function reset() {
    void router.replace({ query: opts.resetQuery ?? {} })
  }
  return { filters, go, reset }
}

type FollowOptions<F> = Omit<QueryFilterOptions<F>, 'onQuery'> & {
  /** Fill the form from the filters (before each load). */
  sync?: (f: F) => void
}

/** Filters in the route query and a loader that `load`s again whenever they change. */
function useLoadOnQuery<F extends object, L extends { load: () => unknown }>(opts: FollowOptions<F>, make: (current: () => F) => L) {
  let current: F
  const loader = make(() => current)
  const q = useRouteQueryFilters<F>({
    ...opts,
    onQuery(f) {
      current = f
      opts.sync?.(f)
      void loader.load()
    },
  })
  return { ...q, ...loader }
}

/** A list loaded anew whenever its route-query filters change (see useRouteQueryFilters). */
export function useQueryList<F extends object, T>(opts: FollowOptions<F> & { fetch: (f: F) => Promise<T> }) {
  return useLoadOnQuery(opts, (current) => {
    const list = useAsync(() => opts.fetch(current()), false)
    return { data: list.data, loading: list.loading, error: list.error, load: list.run }
  })
}

/** A page of a list read by cursor: its items and the cursor for the next page (null at the end). */
export interface CursorPage<R, C> {
  items: R[]
  next_after: C | null
}

/**
 * A list read page by page with a cursor, newest first: `load()` reads it anew, `load(true)`
 * appends the next page. An answer overtaken by a newer load is dropped.
 */
export function useCursorList<R, C>(fetch: (after: C | undefined) => Promise<CursorPage<R, C>>, onFresh?: () => void) {
  const rows = ref<R[]>([]) as Ref<R[]>
  const next = ref<C | null>(null) as Ref<C | null>
  const loading = ref(false)
  const error = shallowRef<unknown>(null)
  let generation = 0
  async function load(more = false) {
    const mine = ++generation
    loading.value = true
    error.value = null
    try {
      const page = await fetch(more ? (next.value ?? undefined) : undefined)
      if (mine !== generation) return
      rows.value = more ? [...rows.value, ...page.items] : page.items
      next.value = page.next_after
      if (!more) onFresh?.()
    } catch (e) {
      if (mine === generation) error.value = e
    } finally {
      if (mine === generation) loading.value = false
    }
  }
  return { rows, next, loading, error, load }
}

/** A cursor-read log whose filters live in the route query (the system page's logs). */
export function useCursorLog<F extends object, R, C>(opts: FollowOptions<F> & { fetch: (f: F, after: C | undefined) => Promise<CursorPage<R, C>> }) {
  return useLoadOnQuery(opts, (current) => useCursorList<R, C>((after) => opts.fetch(current(), after)))
}
