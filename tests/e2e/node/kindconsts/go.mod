module stagingkub.test/kindconsts

go 1.22
