package github

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// GraphQL gives deployments a 32-bit databaseId (null once ids outgrow it) and their
// statuses none at all, but the collector keys both by the REST id. Every global id
// carries it: GitHub's current ids are a type prefix, "_", and the base64url MessagePack
// of an array whose last element is the database id ([0, id], or [0, repository id,
// id]); legacy ids (objects created before 2021, unless X-Github-Next-Global-ID: 1 is
// sent, which the client does) are base64 of "<n>:<Type><id>". GitHub calls ids
// opaque, so a form neither of these is an error that says so, and the REST API
// (repo_api: rest) reads the same data.

var legacyID = regexp.MustCompile(`^\d+:[A-Za-z]+(\d+)$`)

// databaseID reads the database id out of a global id. field names what it belongs to,
// for the error.
func databaseID(field, id string) (int64, error) {
	if prefix, rest, ok := strings.Cut(id, "_"); ok && prefix != "" {
		if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(rest, "=")); err == nil {
			if n, ok := lastMsgpackUint(b); ok {
				return n, nil
			}
		}
	}
	if b, err := base64.StdEncoding.DecodeString(id); err == nil {
		if m := legacyID.FindSubmatch(b); m != nil {
			if n, err := strconv.ParseInt(string(m[1]), 10, 64); err == nil {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("%s: global id %q is in no form this client reads; collect with repo_api \"rest\" and report it", field, id)
}

// lastMsgpackUint decodes a MessagePack array of non-negative integers and returns its
// last element.
func lastMsgpackUint(b []byte) (int64, bool) {
	if len(b) < 2 || b[0]&0xf0 != 0x90 {
		return 0, false // not a fixarray
	}
	n := int(b[0] & 0x0f)
	b = b[1:]
	var last uint64
	for range n {
		if len(b) == 0 {
			return 0, false
		}
		var size int
		switch c := b[0]; {
		case c < 0x80:
			last, b = uint64(c), b[1:]
			continue
		case c == 0xcc:
			size = 1
		case c == 0xcd:
			size = 2
		case c == 0xce:
			size = 4
		case c == 0xcf:
			size = 8
		default:
			return 0, false
		}
		if len(b) < 1+size {
			return 0, false
		}
		last = 0
		for _, x := range b[1 : 1+size] {
			last = last<<8 | uint64(x)
		}
		b = b[1+size:]
	}
	if len(b) != 0 || n == 0 || last > 1<<63-1 {
		return 0, false
	}
	return int64(last), true
}
