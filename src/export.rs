//! Turning exchanges into things other tools read: curl, HTTPie, raw HTTP, HAR 1.2, Postman
//! collection v2.1; secrets redacted unless asked otherwise.
