// Package btftest makes BTFHub-style archives for tests.
package btftest

import (
	"archive/tar"
	"bytes"

	"github.com/ulikunitz/xz"
)

// Archive returns a .btf.tar.xz holding data as the file name; BTFHub's
// entries hold one file, <release>.btf.
func Archive(name string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	xw, err := xz.NewWriter(&buf)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(xw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := xw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
