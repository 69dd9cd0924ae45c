// Package archtest holds tests that guard tiffin's architecture: every package says what it owns
// in a doc comment, service packages meet only through events and the store and never import
// each other, and no grab-bag package (util, common, helpers, models, types, ...) creeps in.
// It has no code of its own; run it with go test.
package archtest
