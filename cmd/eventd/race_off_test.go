//go:build !race

package main

// raceEnabled: the tests scale their load down under the race detector.
const raceEnabled = false
