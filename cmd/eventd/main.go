package main

import "os"

func main() { os.Exit(runBench(os.Args[1:])) }
