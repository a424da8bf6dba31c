package querylog

import (
	"reflect"

	"github.com/glb-dns/glb/server"
)

// Multi returns an observer that passes each query to every one of
// observers in turn. Nil entries are skipped, typed nil pointers included,
// so that a caller can pass outputs it did not configure. With none left it
// returns nil, which the server takes as no observer at all; with one it
// returns that one.
func Multi(observers ...server.QueryObserver) server.QueryObserver {
	var m multi
	for _, o := range observers {
		if isNil(o) {
			continue
		}
		m = append(m, o)
	}
	switch len(m) {
	case 0:
		return nil
	case 1:
		return m[0]
	}
	return m
}

// multi is a list of observers.
type multi []server.QueryObserver

// Observe passes ev to each observer.
func (m multi) Observe(ev *server.QueryEvent) {
	for _, o := range m {
		o.Observe(ev)
	}
}

// isNil reports whether o is nil or holds a nil pointer, map, func or
// slice, as a (*Dnstap)(nil) left unset by a caller would be.
func isNil(o server.QueryObserver) bool {
	if o == nil {
		return true
	}
	switch v := reflect.ValueOf(o); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Slice, reflect.Interface:
		return v.IsNil()
	}
	return false
}
