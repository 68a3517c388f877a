package io.stagingkub.example;

import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

@RestController
public class HelloController {

    @GetMapping(value = "/api/hello", produces = "text/plain")
    public String hello() {
        return "Hello from stagingkub";
    }
}
