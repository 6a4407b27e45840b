package testenv

import (
	"testing"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

func TestBucketNameFollowsS3Rules(t *testing.T) {
	for _, name := range []string{"A", "Upper_and_under/sub test#1", "a_very_long_test_name_that_goes_on_and_on_and_on_and_on_past_sixty_three"} {
		t.Run(name, func(t *testing.T) {
			b := bucketName(t)
			if err := s3utils.CheckValidBucketNameStrict(b); err != nil {
				t.Fatalf("bucketName = %q: %v", b, err)
			}
			if b2 := bucketName(t); b2 == b {
				t.Fatalf("two buckets for one test share the name %q", b)
			}
		})
	}
}

func TestS3(t *testing.T) {
	env := S3(t)
	if keys := env.Keys(t); len(keys) != 0 {
		t.Fatalf("fresh bucket %s holds %v", env.Bucket, keys)
	}
}
