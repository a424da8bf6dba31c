package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// refName is the annotation that names an image in an OCI layout; podman
// load and skopeo take the image's name from it.
const refName = "org.opencontainers.image.ref.name"

// writeArchive writes img as an OCI image layout in one tar file: the
// oci-layout marker, index.json naming the image ref, and the blobs (layers,
// config, manifest) under blobs/sha256/, in that order, every time stamp t.
func writeArchive(out string, img v1.Image, ref string, t time.Time) (err error) {
	manifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("manifest digest: %w", err)
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	configDigest, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("config digest: %w", err)
	}
	index, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: types.OCIManifestSchema1, Digest: digest, Size: int64(len(manifest)),
			Annotations: map[string]string{refName: ref},
		}},
	})
	if err != nil {
		return err
	}

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(f)
	put := func(name string, size int64, r io.Reader) error {
		h := &tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: t, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, ModTime: t, Typeflag: tar.TypeDir}); err != nil {
			return err
		}
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = put("blobs/sha256/"+d.Hex, size, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", d, err)
		}
	}
	for _, b := range []struct {
		name string
		data []byte
	}{
		{"blobs/sha256/" + configDigest.Hex, config},
		{"blobs/sha256/" + digest.Hex, manifest},
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
	} {
		if err := put(b.name, int64(len(b.data)), strings.NewReader(string(b.data))); err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
	}
	return tw.Close()
}

// unpackArchive extracts the file system of the image in an OCI archive
// written by writeArchive into dir, layer after layer as a runtime would,
// and prints the image's config (entrypoint, user, working directory), so
// that a machine without a container runtime can run the entrypoint.
func unpackArchive(archive, dir string, stdout io.Writer) error {
	if dir == "" {
		return errors.New("-into: required with -unpack")
	}
	blobs := map[string][]byte{}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("read %s: %w", archive, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			blobs[h.Name] = b
		}
	}
	blob := func(d v1.Hash) ([]byte, error) {
		b, ok := blobs["blobs/"+d.Algorithm+"/"+d.Hex]
		if !ok {
			return nil, fmt.Errorf("blob %s missing", d)
		}
		return b, nil
	}
	var index v1.IndexManifest
	if err := json.Unmarshal(blobs["index.json"], &index); err != nil || len(index.Manifests) != 1 {
		return fmt.Errorf("index.json: want one manifest (%v)", err)
	}
	mb, err := blob(index.Manifests[0].Digest)
	if err != nil {
		return err
	}
	var m v1.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	cb, err := blob(m.Config.Digest)
	if err != nil {
		return err
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(cb, &cf); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	for _, l := range m.Layers {
		b, err := blob(l.Digest)
		if err != nil {
			return err
		}
		if err := extractLayer(b, dir); err != nil {
			return fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	}
	c := cf.Config
	fmt.Fprintf(stdout, "ref=%s\nos=%s\narch=%s\nentrypoint=%s\ncmd=%s\nuser=%s\nworkdir=%s\nenv=%s\n",
		index.Manifests[0].Annotations[refName], cf.OS, cf.Architecture, strings.Join(c.Entrypoint, " "), strings.Join(c.Cmd, " "),
		c.User, c.WorkingDir, strings.Join(c.Env, " "))
	return nil
}

// extractLayer writes one gzip'd layer tar into dir with the entries'
// modes and owners. Only what writeArchive's layers hold is supported:
// directories and regular files, no links or whiteouts.
func extractLayer(gz []byte, dir string) error {
	zr, err := gzip.NewReader(strings.NewReader(string(gz)))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		name := path.Clean("/" + h.Name)
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unsupported entry type %q", name, h.Typeflag)
		}
		if err := os.Chmod(p, os.FileMode(h.Mode&0o777)|modeBits(h.Mode)); err != nil {
			return err
		}
		if os.Geteuid() == 0 {
			if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
				return err
			}
		}
	}
}

// modeBits turns the sticky, setuid and setgid bits of a tar mode into Go's.
func modeBits(m int64) os.FileMode {
	var fm os.FileMode
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	if m&0o2000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&0o4000 != 0 {
		fm |= os.ModeSetuid
	}
	return fm
}
