// Package migrations embeds the numbered, forward-only SQL migrations.
package migrations

import "embed"

// FS holds every NNNN_name.sql file of this folder.
//
//go:embed *.sql
var FS embed.FS
