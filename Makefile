# tiffin's developer commands. `make test` is what CI runs (through .ci/run).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

FUZZTIME ?= 10s

.PHONY: test run fuzz bench

## test: vet, then every test with the race detector
test:
	go vet ./...
	go test -race -count=1 -timeout 25m ./...

## run: the whole platform in one process, with the city simulator
run:
	go run ./cmd/tiffin dev

## fuzz: run each Fuzz* target for $(FUZZTIME)
fuzz:
	go test -list '^Fuzz' ./... \
	| awk '/^Fuzz/ { names = names " " $$1; next } /^ok/ { if (names != "") print $$2 names; names = "" }' \
	| while read -r pkg targets; do \
		for f in $$targets; do \
			echo "--- fuzz $$pkg $$f ($(FUZZTIME))"; \
			go test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) "$$pkg"; \
		done; \
	done

## bench: every benchmark, no tests
bench:
	go test -run=^$$ -bench=. ./...
