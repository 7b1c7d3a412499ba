package githubsim

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

type deploymentJSON struct {
	URL                   string    `json:"url"`
	ID                    int64     `json:"id"`
	NodeID                string    `json:"node_id"`
	SHA                   string    `json:"sha"`
	Ref                   string    `json:"ref"`
	Task                  string    `json:"task"`
	Payload               struct{}  `json:"payload"`
	OriginalEnvironment   string    `json:"original_environment"`
	Environment           string    `json:"environment"`
	Description           string    `json:"description"`
	Creator               *userJSON `json:"creator"`
	CreatedAt             ts        `json:"created_at"`
	UpdatedAt             ts        `json:"updated_at"`
	StatusesURL           string    `json:"statuses_url"`
	RepositoryURL         string    `json:"repository_url"`
	TransientEnvironment  bool      `json:"transient_environment"`
	ProductionEnvironment bool      `json:"production_environment"`
}

type deploymentStatusJSON struct {
	URL            string    `json:"url"`
	ID             int64     `json:"id"`
	NodeID         string    `json:"node_id"`
	State          string    `json:"state"`
	Creator        *userJSON `json:"creator"`
	Description    string    `json:"description"`
	Environment    string    `json:"environment"`
	TargetURL      string    `json:"target_url"`
	CreatedAt      ts        `json:"created_at"`
	UpdatedAt      ts        `json:"updated_at"`
	DeploymentURL  string    `json:"deployment_url"`
	RepositoryURL  string    `json:"repository_url"`
	EnvironmentURL string    `json:"environment_url"`
	LogURL         string    `json:"log_url"`
}

func (c *call) deploymentJSON(r *repo, d *deployment) deploymentJSON {
	u := fmt.Sprintf("%s/deployments/%d", c.repoURL(r), d.id)
	return deploymentJSON{
		URL: u, ID: d.id, NodeID: nodeID("DE_", d.id), SHA: r.commits[d.commit].sha.String(), Ref: d.ref, Task: "deploy",
		OriginalEnvironment: d.env, Environment: d.env, Description: d.description, Creator: c.userJSON(d.creator),
		CreatedAt: ts(d.createdAt), UpdatedAt: ts(d.updatedAt(c.now)), StatusesURL: u + "/statuses",
		RepositoryURL: c.repoURL(r), ProductionEnvironment: productionEnv.MatchString(d.env),
	}
}

// listDeployments is GET /repos/{o}/{r}/deployments (sha, ref, task, environment
// filters), newest first.
func (c *call) listDeployments() reply {
	r, found := c.repo()
	if !found {
		return notFound()
	}
	q := c.r.URL.Query()
	var list []*deployment
	for i := len(r.deployments) - 1; i >= 0; i-- {
		d := &r.deployments[i]
		if d.createdAt.After(c.now) {
			continue
		}
		if v := q.Get("environment"); v != "" && v != d.env {
			continue
		}
		if v := q.Get("sha"); v != "" && v != r.commits[d.commit].sha.String() {
			continue
		}
		if v := q.Get("ref"); v != "" && v != d.ref && v != "refs/heads/"+d.ref {
			continue
		}
		if v := q.Get("task"); v != "" && v != "deploy" {
			continue
		}
		list = append(list, d)
	}
	pageItems, link := paginate(c, list, c.pageParams(30, 100))
	out := make([]deploymentJSON, 0, len(pageItems))
	for _, d := range pageItems {
		out = append(out, c.deploymentJSON(r, d))
	}
	rep := ok(out)
	rep.link = link
	return rep
}

func (c *call) deployment() (*repo, *deployment, bool) {
	r, found := c.repo()
	if !found {
		return nil, nil, false
	}
	id, err := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, nil, false
	}
	i, found := slices.BinarySearchFunc(r.deployments, id, func(d deployment, id int64) int { return cmp.Compare(d.id, id) })
	if !found || r.deployments[i].createdAt.After(c.now) {
		return nil, nil, false
	}
	return r, &r.deployments[i], true
}

func (c *call) getDeployment() reply {
	r, d, found := c.deployment()
	if !found {
		return notFound()
	}
	return ok(c.deploymentJSON(r, d))
}

// listDeploymentStatuses is GET /deployments/{id}/statuses, newest first.
func (c *call) listDeploymentStatuses() reply {
	r, d, found := c.deployment()
	if !found {
		return notFound()
	}
	sts := slices.Clone(d.statusesAt(c.now))
	slices.Reverse(sts)
	pageItems, link := paginate(c, sts, c.pageParams(30, 100))
	du := fmt.Sprintf("%s/deployments/%d", c.repoURL(r), d.id)
	out := make([]deploymentStatusJSON, 0, len(pageItems))
	for _, s := range pageItems {
		logURL := fmt.Sprintf("%s/%s/actions/runs/%d", htmlBase, r.fullName(), d.id)
		envURL := ""
		if s.state == "success" {
			envURL = "https://" + envHost.Replace(d.env) + "." + r.name + ".example.com"
		}
		out = append(out, deploymentStatusJSON{
			URL: fmt.Sprintf("%s/statuses/%d", du, s.id), ID: s.id, NodeID: nodeID("DES_", s.id), State: s.state,
			Creator: c.userJSON(d.creator), Description: statusDescription(s.state), Environment: d.env,
			TargetURL: logURL, CreatedAt: ts(s.at), UpdatedAt: ts(s.at), DeploymentURL: du,
			RepositoryURL: c.repoURL(r), EnvironmentURL: envURL, LogURL: logURL,
		})
	}
	rep := ok(out)
	rep.link = link
	return rep
}

// envHost turns an environment name ("production/api") into a host label.
var envHost = strings.NewReplacer("/", "-", ":", "-", " ", "-", "_", "-", ".", "-")

func statusDescription(state string) string {
	switch state {
	case "success":
		return "Deployment finished successfully."
	case "failure":
		return "Deployment failed."
	case "error":
		return "Deployment errored."
	case "inactive":
		return "Superseded by a newer deployment."
	}
	return "Deployment " + state + "."
}
