# metrics-collector — build, test, run.
# The two commands a newcomer needs: `make demo` and `make test` (see README.md).

GO          ?= go
BINARY      := metrics-collector
BIN_DIR     := bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable

.PHONY: build test test-race lint demo bench bench-daily package deploy clean

build: ## Build the handler binary into bin/
	$(GO) build -trimpath -o $(BIN_DIR)/$(BINARY) ./handler

test: ## Run every test against the PostgreSQL at TEST_DATABASE_URL
	$(GO) test -count=1 -timeout 30m ./...

test-race: ## The tests with the race detector (slower)
	$(GO) test -count=1 -race -timeout 30m ./...

lint: ## gofmt, go vet and staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

demo: build ## Run the whole daily job locally against the GitHub simulator (DEMO_GITHUB_APP=1: as a GitHub App)
	./$(BIN_DIR)/$(BINARY) demo

bench: ## Every benchmark (the heavy ones run once; figures go to docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem -timeout 90m ./...

bench-daily: ## The daily run on the benchmark world under 5,000 requests/h (docs/benchmarks.md)
	$(GO) test ./handler -run '^$$' -bench DailyRun -benchtime 1x -timeout 60m

package: ## Build dist/metrics-collector.zip for zip deploy
	./scripts/package.sh

deploy: package ## Zip-deploy to the Function App named by AZURE_FUNCTION_APP_NAME / AZURE_RESOURCE_GROUP
	./scripts/deploy.sh

clean:
	rm -rf $(BIN_DIR) dist .demo
