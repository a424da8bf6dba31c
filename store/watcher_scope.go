package store

// WatchOnly narrows what the Watcher lists and watches to the keys under
// its prefix plus sub, e.g. "regions/": its States then hold those keys
// only. glbprobe needs nothing but the regions, and its etcd role
// (glb-prober-<id>, see Roles) may read nothing else, so a list of the
// whole prefix would be refused. Call it before Run.
func (w *Watcher) WatchOnly(sub string) { w.scope = w.prefix + sub }

// watched returns the prefix the Watcher lists and watches.
func (w *Watcher) watched() string {
	if w.scope != "" {
		return w.scope
	}
	return w.prefix
}
