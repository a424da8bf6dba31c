package main

import "os"

// defaultInstance names an instance after its host; in dev mode after its
// DNS address too, since dev instances side by side share the host.
func defaultInstance(c Config) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "glbd"
	}
	if c.Dev {
		return host + " " + c.DNSAddr
	}
	return host
}
