package engine

import (
	"os"
	"strings"

	"github.com/sluice-db/sluice/catalog"
	"github.com/sluice-db/sluice/sqlerr"
)

// resolveSecrets returns opts with every secret option (catalog.SecretOption)
// that holds a reference replaced by the secret it names: `${env:NAME}` is
// environment variable NAME of the server, `${file:/path}` the file's
// contents without a final newline. References are resolved each time a
// source starts, so the catalog keeps only the reference and a rotated
// secret is picked up on restart. Any other value is the secret itself.
func resolveSecrets(opts map[string]string) (map[string]string, error) {
	var out map[string]string
	for k, v := range opts {
		if !catalog.SecretOption(k) || !strings.HasPrefix(v, "${") || !strings.HasSuffix(v, "}") {
			continue
		}
		secret, err := readSecret(k, v[2:len(v)-1])
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = make(map[string]string, len(opts))
			for k2, v2 := range opts {
				out[k2] = v2
			}
		}
		out[k] = secret
	}
	if out == nil {
		return opts, nil
	}
	return out, nil
}

// readSecret reads the secret of option name from ref ("env:NAME" or
// "file:/path"). Errors name the option and the reference, never a secret.
func readSecret(name, ref string) (string, error) {
	kind, arg, _ := strings.Cut(ref, ":")
	switch {
	case kind == "env" && arg != "":
		v, ok := os.LookupEnv(arg)
		if !ok {
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "option \"%s\": environment variable %s is not set", name, arg)
		}
		return v, nil
	case kind == "file" && arg != "":
		b, err := os.ReadFile(arg)
		if err != nil {
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "option \"%s\": reading the secret file: %v", name, err)
		}
		return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
	}
	return "", sqlerr.New(sqlerr.InvalidParameterValue, "option \"%s\": \"${%s}\" is not a secret reference", name, ref).
		WithHint("Use ${env:NAME} for an environment variable or ${file:/path} for a file.")
}
